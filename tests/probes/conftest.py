import numpy as np
import pytest


def planted(n=600, d=40, a=3, noise=0.2, seed=0):
    """Features X (n, d) and labels Y (n, a) where attribute k is a linear function of X + noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32) * rng.uniform(0.5, 3.0, d).astype(np.float32) + 2.0
    W = rng.normal(size=(d, a)) * (rng.random((d, a)) < 0.3)
    W[0] += 1.0
    Z = (X - X.mean(0)) / X.std(0) @ W
    Y = (Z + noise * Z.std(0) * rng.normal(size=(n, a)) > 0).astype(np.int8)
    return X, Y


@pytest.fixture
def planted_data():
    X, Y = planted()
    split = np.repeat([0, 1, 2], [400, 100, 100])
    return X, Y, split


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """Keep rendered data sets out of the user's cache."""
    import os

    old = os.environ.get("XAIPROBE_CACHE")
    os.environ["XAIPROBE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("XAIPROBE_CACHE", None)
    else:
        os.environ["XAIPROBE_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A tiny checkpoint over 160 SynthFaces and its mean-pooled activations of every layer."""
    from xaiprobe.activations import extract_activations
    from xaiprobe.testing.data import tiny_faces
    from xaiprobe.testing.models import tiny_checkpoint

    run = tmp_path_factory.mktemp("run")
    data = tiny_faces(160)
    ck = tiny_checkpoint(run / "checkpoints" / "epoch_000.pt", data, seed=0)
    act = extract_activations(ck, data, run / "activations.h5", pooling="mean", dtype="float32", progress=False)
    return {"run": run, "data": data, "checkpoint": ck, "activations": act}

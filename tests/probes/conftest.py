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


def write_planted_store(path, n=300, seed=0):
    """An activations file with three attributes A, B, C: layer conv2 holds them linearly (plus
    noise), conv1 is 6-D noise and conv3 is 1-D noise (a logit-like layer)."""
    import json

    import h5py

    rng = np.random.default_rng(seed)
    planted = rng.normal(size=(n, 6)).astype(np.float32)
    Y = (planted[:, :3] + 0.4 * rng.normal(size=(n, 3)) > 0).astype(np.int8)
    layers = {"conv1": rng.normal(size=(n, 6)).astype(np.float32), "conv2": planted,
              "conv3": rng.normal(size=(n, 1)).astype(np.float32)}
    split = np.repeat(np.array([0, 1, 2], np.uint8), [n // 2, n // 4, n - n // 2 - n // 4])
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "xaiprobe.activations", "version": 1, "complete": True,
                        "layers": json.dumps(list(layers)), "data": json.dumps({"spec": "planted"})})
        f["index"] = np.arange(n, dtype=np.int64)
        f["split"] = split
        f["member"] = np.zeros(n, bool)
        f["labels"] = Y
        f["labels"].attrs["names"] = np.array(["A", "B", "C"], dtype=h5py.string_dtype())
        f["labels"].attrs["concept_type"] = "multilabel"
        f["logits"] = layers["conv3"][:, 0]
        for name, x in layers.items():
            ds = f.create_dataset(f"layers/{name}/activations", data=x)
            ds.attrs.update({"module_path": f"main.{name[-1]}", "pooling": "none",
                             "full_shape": np.asarray(x.shape[1:], np.int64)})
    return path


@pytest.fixture
def planted_store(tmp_path):
    """Path of :func:`write_planted_store`'s file (conv2 is the layer that knows A, B, C)."""
    return write_planted_store(tmp_path / "planted.h5")

"""Shared toy audits (run once per session: each is a full audit of the planted blob GANs)."""
import pytest

from .toy import BlobOracle, make_pair

#: small, fast settings under which the toy audit is reliable
TOY = dict(features="random", k=4, k_common=2, iterations=80, lr=0.05, dre_samples=256, dre_steps=150,
           eval_samples=16, strip_samples=1, device="cpu", seed=0)


@pytest.fixture(scope="session")
def toy_audit(tmp_path_factory):
    """The client lacks blob C: a full audit with baselines and the null audit."""
    import xaiprobe

    ref, client = make_pair(0)
    run = tmp_path_factory.mktemp("toy_audit")
    result = xaiprobe.audit(ref, client, run_dir=run, classifier=BlobOracle(), missing=["BlobC"], **TOY)
    return result, run


@pytest.fixture(scope="session")
def self_audit(tmp_path_factory):
    """The reference against itself (no baselines)."""
    import xaiprobe

    ref, _ = make_pair(0)
    run = tmp_path_factory.mktemp("self_audit")
    return xaiprobe.audit(ref, ref, run_dir=run, classifier=BlobOracle(), baselines=False, **TOY), run

"""Positive control: a tiny GAN trained many epochs on a tiny member set is caught by the attack."""
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.mia import positive_control


@pytest.fixture
def one_thread():
    """Tiny convolutions run faster on one thread on a busy machine (restored afterwards)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_positive_control_memorizes_and_is_reused(tmp_path, one_thread):
    from xaiprobe.testing.data import tiny_faces

    data = tiny_faces(96, seed=0)
    kw = dict(n_members=32, epochs=40, batch_size=8, config={"nz": 16, "ngf": 16, "ndf": 16}, seed=0,
              progress=False, n_bootstrap=200, fprs=(0.1,))
    ctl = positive_control(data, tmp_path / "control", **kw)
    res = ctl.result
    assert ctl.trained and ctl.seconds > 0
    assert res.metrics["n_members"] == 16 and res.metrics["n_nonmembers"] == 16
    assert res.index_members.size == 32
    assert res.metrics["auc"] > 0.75, str(res)
    # only last.pt is kept; a second call with the same settings reuses it
    assert sorted(p.name for p in (tmp_path / "control" / "checkpoints").iterdir()) == ["last.pt"]
    again = positive_control(data, tmp_path / "control", **kw)
    assert not again.trained and again.result.metrics["auc"] == res.metrics["auc"]
    assert again.seconds == pytest.approx(ctl.seconds)


def test_positive_control_bad_input(tmp_path):
    from xaiprobe.testing.data import tiny_faces

    data = tiny_faces(20)
    with pytest.raises(XaiprobeError, match="--control-members"):
        positive_control(data, tmp_path / "c", n_members=100, epochs=1)
    with pytest.raises(XaiprobeError, match="epochs"):
        positive_control(data, tmp_path / "c", n_members=8, epochs=0)
    (tmp_path / "other" / "checkpoints").mkdir(parents=True)
    (tmp_path / "other" / "checkpoints" / "last.pt").write_bytes(b"not ours")
    with pytest.raises(XaiprobeError, match="another run"):
        positive_control(data, tmp_path / "other", n_members=8, epochs=1, config={"nz": 8, "ngf": 4, "ndf": 4})

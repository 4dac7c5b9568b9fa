import json

import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.gan import load_checkpoint, train_gan
from xaiprobe.gan.sampling import sample_images
from xaiprobe.gan.train import _distributed
from xaiprobe.testing.models import tiny_checkpoint, tiny_config, tiny_dcgan


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_run_directory_layout(trained_run):
    out, last = trained_run
    assert last == out / "checkpoints" / "last.pt"
    for e in (1, 2, 3):
        assert (out / "checkpoints" / f"epoch_{e:03d}.pt").is_file()
        png = out / "samples" / f"epoch_{e:03d}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert last.read_bytes() == (out / "checkpoints" / "epoch_003.pt").read_bytes()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["seed"] == 0 and cfg["arch"]["ngf"] == 4 and cfg["data"]["spec"] == "planted:48"
    assert cfg["hyperparameters"]["lr"] == 2e-4 and cfg["hyperparameters"]["betas"] == [0.5, 0.999]
    assert {"torch", "xaiprobe", "python"} <= set(cfg["versions"])
    assert not list(out.rglob("*.part"))


def test_checkpoint_records_members_and_history(trained_run, planted):
    _, last = trained_run
    ck = load_checkpoint(last)
    train_rows = planted.rows_of("train")
    np.testing.assert_array_equal(ck.members, planted.index[train_rows])
    assert ck.data == {"spec": "planted:48", "split": "train", "max_images": None, "exclude": [],
                       "attributes": ["planted"]}
    hist = ck.raw["extra"]["history"]
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert all(h["images"] == train_rows.size for h in hist)
    assert all(np.isfinite(h[k]) for h in hist for k in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2"))
    # losses move: D gets better at telling the planted images from fakes
    assert hist[-1]["d_x"] > hist[0]["d_x"] + 0.05
    assert hist[-1]["loss_d"] < hist[0]["loss_d"]


def test_trained_discriminator_separates_real_from_untrained_fakes(trained_run, planted):
    _, last = trained_run
    # batch-norm in training mode (batch statistics), as D sees real and fake batches in training
    D = load_checkpoint(last).discriminator.train()
    G0, D0 = tiny_dcgan(0)
    _, fakes = sample_images(G0, 8, seed=5)
    real = planted.images(planted.rows_of("test"))  # held-out planted images
    with torch.no_grad():
        gap_trained = D(real).mean() - D(fakes).mean()
        gap_init = D0.train()(real).mean() - D0(fakes).mean()
    assert gap_trained > 0.5
    assert gap_trained > gap_init + 0.5


def test_same_seed_same_weights_different_seed_differs(tmp_path, planted):
    kw = dict(epochs=1, batch_size=8, config=tiny_config(), device="cpu", progress=False, sample_count=4)
    a = load_checkpoint(train_gan(planted, tmp_path / "a", seed=7, **kw))
    b = load_checkpoint(train_gan(planted, tmp_path / "b", seed=7, **kw))
    c = load_checkpoint(train_gan(planted, tmp_path / "c", seed=8, **kw))
    assert _same_weights(a.generator, b.generator) and _same_weights(a.discriminator, b.discriminator)
    assert not _same_weights(a.generator, c.generator)


def test_resume_equals_uninterrupted_run(tmp_path, trained_run, planted):
    kw = dict(batch_size=4, seed=0, device="cpu", progress=False, sample_count=16)
    out = tmp_path / "r"
    train_gan(planted, out, epochs=1, config=tiny_config(), **kw)
    last = train_gan(planted, out, epochs=3, resume=True, **kw)  # arch taken from the checkpoint
    ck, ref = load_checkpoint(last), load_checkpoint(trained_run[1])
    assert ck.epoch == 3
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == \
        ["epoch_001.pt", "epoch_002.pt", "epoch_003.pt", "last.pt"]
    assert [h["epoch"] for h in ck.raw["extra"]["history"]] == [1, 2, 3]
    assert _same_weights(ck.generator, ref.generator) and _same_weights(ck.discriminator, ref.discriminator)
    assert json.loads((out / "config.json").read_text())["resumed"][0]["from_epoch"] == 1
    # already at the requested epoch: nothing more to do
    assert load_checkpoint(train_gan(planted, out, epochs=3, resume=True, **kw)).epoch == 3


def test_resume_refuses_other_arch_or_data(tmp_path, planted, make_planted):
    kw = dict(batch_size=8, device="cpu", progress=False, sample_count=4)
    out = tmp_path / "r"
    train_gan(planted, out, epochs=1, config=tiny_config(), **kw)
    with pytest.raises(XaiprobeError, match="architecture differs.*ngf"):
        train_gan(planted, out, epochs=2, resume=True, config={"nz": 8, "ngf": 8, "ndf": 4}, **kw)
    with pytest.raises(XaiprobeError, match="data spec"):
        train_gan(make_planted(40), out, epochs=2, resume=True, **kw)
    with pytest.raises(XaiprobeError, match="max_images"):
        train_gan(planted, out, epochs=2, resume=True, max_images=8, **kw)
    with pytest.raises(XaiprobeError, match="pass --resume"):
        train_gan(planted, out, epochs=2, config=tiny_config(), **kw)


def test_max_images_and_bad_arguments(tmp_path, planted):
    last = train_gan(planted, tmp_path / "m", epochs=1, batch_size=4, max_images=6, config=tiny_config(),
                     device="cpu", progress=False, sample_count=4)
    ck = load_checkpoint(last)
    np.testing.assert_array_equal(ck.members, planted.index[planted.rows_of("train")[:6]])
    assert ck.raw["extra"]["history"][0]["images"] == 6
    with pytest.raises(XaiprobeError, match="split 'bogus'"):
        train_gan(planted, tmp_path / "x", epochs=1, split="bogus", config=tiny_config(), progress=False)
    with pytest.raises(XaiprobeError, match="batch size"):
        train_gan(planted, tmp_path / "x", epochs=1, batch_size=0, config=tiny_config(), progress=False)
    with pytest.raises(XaiprobeError, match="sizes must be >= 1"):
        train_gan(planted, tmp_path / "x", epochs=1, config={"nz": 0, "ngf": 4, "ndf": 4}, progress=False)
    with pytest.raises(XaiprobeError, match="ImageSet"):
        train_gan(np.zeros((4, 3, 64, 64)), tmp_path / "x", epochs=1, progress=False)


@pytest.mark.parametrize("flags", [{"channels_last": True}, {"autocast_bf16": True}])
def test_opt_in_speedups_train(tmp_path, planted, flags):
    last = train_gan(planted, tmp_path / "s", epochs=1, batch_size=8, config=tiny_config(), device="cpu",
                     progress=False, sample_count=4, **flags)
    ck = load_checkpoint(last)
    h = ck.raw["extra"]["history"][0]
    assert np.isfinite(h["loss_d"]) and np.isfinite(h["loss_g"])
    assert all(torch.isfinite(v).all() for v in ck.generator.state_dict().values())


def test_world_size_one_is_not_distributed(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert _distributed(torch.device("cpu")) == (0, 1, torch.device("cpu"), False)
    assert not torch.distributed.is_initialized()


def test_tiny_checkpoint_trained(tmp_path, planted):
    ck = load_checkpoint(tiny_checkpoint(tmp_path / "t1.pt", planted, seed=0, epochs=1))
    assert ck.epoch == 1 and ck.arch["ngf"] == 4
    np.testing.assert_array_equal(ck.members, planted.index[planted.rows_of("train")])

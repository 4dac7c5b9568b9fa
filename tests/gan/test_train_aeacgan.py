"""train_gan(arch="aeacgan"): run layout, history, determinism, resume, --exclude, --init, export."""
import json

import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.gan import export_checkpoint, load_checkpoint, train_gan

TINY = {"nz": 8, "width": 0.125}
KW = dict(batch_size=8, device="cpu", progress=False, sample_count=8)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Bitwise determinism is promised at a fixed thread count; with several intra-op threads some
    CPU reductions (the AE-ACGAN's dense layers) may sum in another order from run to run."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory, coloured):
    """2 epochs (4 steps each) of a width-0.125 AE-ACGAN on the colour-coded images."""
    out = tmp_path_factory.mktemp("ae") / "run"
    last = train_gan(coloured, out, epochs=2, seed=0, arch="aeacgan", config=TINY, **KW)
    return out, last


def test_run_layout_history_and_checkpoint(ae_run, coloured):
    out, last = ae_run
    for e in (1, 2):
        assert (out / "checkpoints" / f"epoch_{e:03d}.pt").is_file()
        for name in ("epoch", "recon_epoch", "cond_epoch"):
            assert (out / "samples" / f"{name}_{e:03d}.png").read_bytes()[:4] == b"\x89PNG"
    rows = json.loads((out / "samples" / "cond_rows.json").read_text())["rows"]
    assert rows == ["Red=0", "Red=1", "Coin=0", "Coin=1"]
    ck = load_checkpoint(last)
    assert ck.kind == "aeacgan" and ck.arch["name"] == "aeacgan" and ck.arch["n_attributes"] == 2
    assert ck.encoder is not None and not ck.encoder.training
    raw = torch.load(last, weights_only=True)
    assert set(raw["optimizers"]) == {"generator", "discriminator", "autoencoder"}
    assert raw["optimizers"]["autoencoder"]["param_groups"][0]["lr"] == pytest.approx(5e-5)
    np.testing.assert_array_equal(ck.members, coloured.index[coloured.rows_of("train")])
    assert ck.data["attributes"] == ["Red", "Coin"] and ck.data["render_version"] == 1
    hist = ck.raw["extra"]["history"]
    keys = {"loss_d", "loss_g", "loss_ae", "loss_ae_labels", "aux_real", "aux_fake", "d_x", "d_g_z1",
            "d_g_z2", "acc_real", "acc_fake", "f1_real", "f1_fake", "images", "time_s"}
    assert keys <= set(hist[0]) and [h["epoch"] for h in hist] == [1, 2]
    assert all(0 <= h[k] <= 1 for h in hist for k in ("acc_real", "acc_fake", "f1_real", "f1_fake"))
    # G's default label row is the commonest training row; G(z) alone uses it
    rows, counts = np.unique(coloured.labels[coloured.rows_of("train")], axis=0, return_counts=True)
    assert ck.generator.default_labels.tolist() == rows[counts.argmax()].tolist()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["hyperparameters"]["real_label"] == 0.9 and cfg["hyperparameters"]["ae_lr_scale"] == 0.25


def test_same_seed_same_weights(tmp_path, coloured, ae_run):
    a = load_checkpoint(train_gan(coloured, tmp_path / "a", epochs=2, seed=0, arch="aeacgan", config=TINY, **KW))
    b = load_checkpoint(ae_run[1])
    c = load_checkpoint(train_gan(coloured, tmp_path / "c", epochs=1, seed=1, arch="aeacgan", config=TINY, **KW))
    for role in ("generator", "discriminator", "encoder"):
        assert _same(getattr(a, role), getattr(b, role))
    assert not _same(a.discriminator, c.discriminator)


def test_resume_equals_uninterrupted_run(tmp_path, coloured, ae_run):
    out = tmp_path / "r"
    train_gan(coloured, out, epochs=1, seed=0, arch="aeacgan", config=TINY, **KW)
    last = train_gan(coloured, out, epochs=2, seed=0, resume=True, **KW)  # arch from the checkpoint
    ck, ref = load_checkpoint(last), load_checkpoint(ae_run[1])
    assert ck.epoch == 2 and [h["epoch"] for h in ck.raw["extra"]["history"]] == [1, 2]
    for role in ("generator", "discriminator", "encoder"):
        assert _same(getattr(ck, role), getattr(ref, role))


def test_resume_refuses_other_kind_attributes_or_render_version(tmp_path, coloured):
    out = tmp_path / "r"
    train_gan(coloured, out, epochs=1, seed=0, arch="aeacgan", config=TINY, **KW)
    with pytest.raises(XaiprobeError, match="AE-ACGAN run, not a DCGAN run"):
        train_gan(coloured, out, epochs=2, resume=True, arch="dcgan", **KW)
    fewer = coloured.subset(np.arange(len(coloured)))
    fewer.labels, fewer.attribute_names = fewer.labels[:, :1], ["Red"]
    with pytest.raises(XaiprobeError, match="1 attributes but the checkpoint was trained on 2"):
        train_gan(fewer, out, epochs=2, resume=True, **KW)
    newer = coloured.subset(np.arange(len(coloured)))
    newer.info["render_version"] = 2
    with pytest.raises(XaiprobeError, match="render version 2 .* version 1"):
        train_gan(newer, out, epochs=2, resume=True, **KW)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch_001.pt", "last.pt"]


@pytest.mark.parametrize("arch", ["dcgan", "aeacgan"])
def test_exclude_keeps_no_excluded_image(tmp_path, coloured, arch):
    config = TINY if arch == "aeacgan" else {"nz": 8, "ngf": 4, "ndf": 4}
    ck = load_checkpoint(train_gan(coloured, tmp_path / arch, epochs=1, arch=arch, config=config,
                                   exclude="Red", **KW))
    labels = coloured.labels[np.searchsorted(coloured.index, ck.members)]
    assert 0 < len(ck.members) < 24 and (labels[:, 0] == 0).all()
    assert ck.data["exclude"] == ["Red=1"]
    np.testing.assert_array_equal(ck.members, coloured.index[coloured.rows_of("train")][
        coloured.labels[coloured.rows_of("train"), 0] == 0])
    if arch == "aeacgan":  # G's default row is one it trained on
        assert ck.generator.default_labels[0] == 0


def test_exclude_value_and_errors(tmp_path, coloured):
    ck = load_checkpoint(train_gan(coloured, tmp_path / "k", epochs=1, arch="dcgan", config={"nz": 8, "ngf": 4, "ndf": 4},
                                   exclude=["Red=0", "Coin=1"], **KW))
    labels = coloured.labels[np.searchsorted(coloured.index, ck.members)]
    assert (labels[:, 0] == 1).all() and (labels[:, 1] == 0).all()
    with pytest.raises(XaiprobeError, match="no attribute 'Eyeglasses'.*Red, Coin"):
        train_gan(coloured, tmp_path / "x", epochs=1, exclude="Eyeglasses", **KW)
    with pytest.raises(XaiprobeError, match="0 or 1"):
        train_gan(coloured, tmp_path / "x", epochs=1, exclude="Red=2", **KW)
    with pytest.raises(XaiprobeError, match="no images to train on after --exclude"):
        train_gan(coloured, tmp_path / "x", epochs=1, exclude="Red=0,Red=1", **KW)
    assert not (tmp_path / "x").exists()


def test_init_fine_tunes_from_a_checkpoint(tmp_path, coloured, ae_run):
    src = load_checkpoint(ae_run[1])
    out = tmp_path / "ft"
    last = train_gan(coloured, out, epochs=1, seed=5, init=ae_run[1], exclude="Coin", **KW)
    ck = load_checkpoint(last)
    assert ck.kind == "aeacgan" and ck.arch == src.arch and ck.raw["extra"]["init"]["epoch"] == 2
    # fresh optimizers: one epoch of steps, not the source's 4 + the epoch's
    assert int(ck.raw["optimizers"]["generator"]["state"][0]["step"]) == -(-len(ck.members) // 8)
    assert not _same(ck.generator, src.generator)
    # started from the source's weights: closer to them than a fresh run with the same seed
    fresh = load_checkpoint(train_gan(coloured, tmp_path / "fresh", epochs=1, seed=5, arch="aeacgan", config=TINY,
                                      exclude="Coin", **KW))
    w = lambda c: c.discriminator.trunk[0].weight  # noqa: E731
    assert (w(ck) - w(src)).abs().mean() < (w(fresh) - w(src)).abs().mean()
    with pytest.raises(XaiprobeError, match="--init .* AE-ACGAN checkpoint, this run trains a DCGAN"):
        train_gan(coloured, tmp_path / "bad", epochs=1, arch="dcgan", init=ae_run[1], **KW)
    with pytest.raises(XaiprobeError, match="--init .* architecture differs .*width"):
        train_gan(coloured, tmp_path / "bad", epochs=1, config={"nz": 8, "width": 0.25}, init=ae_run[1], **KW)
    assert not (tmp_path / "bad").exists()


def test_no_autoencoder_ablation(tmp_path, coloured):
    last = train_gan(coloured, tmp_path / "n", epochs=1, arch="aeacgan", config=TINY,
                     recipe={"autoencoder": False, "d_noise": 0.1}, **KW)
    ck = load_checkpoint(last)
    h = ck.raw["extra"]["history"][0]
    assert "loss_ae" not in h and np.isfinite(h["loss_d"])
    assert ck.raw["extra"]["hyperparameters"]["autoencoder"] is False
    assert not (tmp_path / "n" / "samples" / "recon_epoch_001.png").exists()
    from xaiprobe.gan.aeacgan import build_aeacgan
    assert _same(ck.encoder, build_aeacgan(config=ck.config, seed=0).encoder)  # left at its initialization
    with pytest.raises(XaiprobeError, match="only for --arch aeacgan"):
        train_gan(coloured, tmp_path / "x", epochs=1, arch="dcgan", recipe={"d_noise": 0.1}, **KW)


def test_export_half_keeps_the_encoder(tmp_path, ae_run):
    out = export_checkpoint(ae_run[1], tmp_path / "small.pt")
    raw = torch.load(out, weights_only=True)
    assert raw["encoder"]["trunk.0.weight"].dtype == torch.float16 and raw["optimizers"] == {}
    a, b = load_checkpoint(ae_run[1]), load_checkpoint(out)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(a.encoder(x)[1], b.encoder(x)[1], atol=2e-2)
        assert torch.allclose(a.discriminator(x), b.discriminator(x), atol=2e-2)
        z = torch.randn(2, 8)
        assert torch.allclose(a.generator(z), b.generator(z), atol=2e-2)

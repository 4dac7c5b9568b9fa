import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.gan import export_checkpoint, load_checkpoint, save_checkpoint
from xaiprobe.gan.checkpoint import load_state_dict_checked
from xaiprobe.gan.dcgan import DCGANConfig, Discriminator
from xaiprobe.testing.models import tiny_checkpoint, tiny_dcgan


def test_training_checkpoint_loads_with_weights_only(trained_run):
    _, last = trained_run
    raw = torch.load(last, map_location="cpu", weights_only=True)
    assert raw["format"] == "xaiprobe.checkpoint" and raw["epoch"] == 3
    assert set(raw["optimizers"]) == {"generator", "discriminator"}
    assert raw["optimizers"]["discriminator"]["param_groups"][0]["betas"] == (0.5, 0.999)
    ck = load_checkpoint(last)
    assert not ck.generator.training and ck.config.ngf == 4
    # the optimizer state restores into fresh Adam optimizers
    G, D = tiny_dcgan(0)
    torch.optim.Adam(D.parameters()).load_state_dict(raw["optimizers"]["discriminator"])


def test_tiny_checkpoint_members_are_train_index(tmp_path, planted):
    p = tiny_checkpoint(tmp_path / "t.pt", planted, seed=1)
    ck = load_checkpoint(p)
    np.testing.assert_array_equal(ck.members, planted.index[planted.rows_of("train")])
    assert ck.epoch == 0 and ck.data["spec"] == planted.spec
    G, _ = tiny_dcgan(1)
    assert torch.equal(ck.generator.main[0].weight, G.main[0].weight)


def test_truncated_checkpoint_is_an_error(tmp_path, trained_run):
    _, last = trained_run
    data = last.read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(XaiprobeError, match="cannot be loaded"):
        load_checkpoint(bad)
    with pytest.raises(XaiprobeError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")


def test_mismatched_state_dict_names_keys(tmp_path):
    G, D = tiny_dcgan(0)
    state = D.state_dict()
    state.pop("main.0.weight")
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(XaiprobeError, match=r"missing keys main\.0\.weight.*unexpected keys extra\.weight"):
        load_state_dict_checked(Discriminator(DCGANConfig(nz=8, ngf=4, ndf=4)), state, "test")
    # wrong widths: a checkpoint whose arch disagrees with its weights
    wide, _ = tiny_dcgan(0)[0], None
    p = save_checkpoint(tmp_path / "w.pt", arch=DCGANConfig(nz=8, ngf=8, ndf=4).to_dict(), generator=wide.state_dict(),
                        discriminator=D.state_dict(), epoch=0, data={"spec": "x"}, members=[])
    with pytest.raises(XaiprobeError, match="shape mismatch"):
        load_checkpoint(p)


def test_export_half_loads_as_float32(tmp_path, trained_run):
    _, last = trained_run
    out = export_checkpoint(last, tmp_path / "small.pt")
    raw = torch.load(out, weights_only=True)
    assert raw["optimizers"] == {} and raw["generator"]["main.0.weight"].dtype == torch.float16
    assert raw["discriminator"]["main.3.num_batches_tracked"].dtype == torch.int64
    assert out.stat().st_size < last.stat().st_size / 2
    a, b = load_checkpoint(last), load_checkpoint(out)
    assert next(b.generator.parameters()).dtype == torch.float32
    np.testing.assert_array_equal(a.members, b.members)
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert torch.allclose(a.generator(z), b.generator(z), atol=1e-2)


def test_generator_only_export_samples_and_refuses_its_discriminator(tmp_path, trained_run):
    from xaiprobe import XaiprobeError

    _, last = trained_run
    full = export_checkpoint(last, tmp_path / "full.pt")
    out = export_checkpoint(last, tmp_path / "g.pt", parts=("generator",))
    assert "discriminator" not in torch.load(out, weights_only=True)
    assert out.stat().st_size < full.stat().st_size * 0.8
    a, b = load_checkpoint(last), load_checkpoint(out)
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert torch.allclose(a.generator(z), b.generator(z), atol=1e-2)
    with pytest.raises(XaiprobeError, match="holds only its generator"):
        b.discriminator(torch.zeros(1, 3, 64, 64))
    with pytest.raises(XaiprobeError, match="holds generator, discriminator"):
        export_checkpoint(last, tmp_path / "x.pt", parts=("critic",))

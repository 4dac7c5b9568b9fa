"""Loading any discriminator: --model factory + --weights, checkpoints, bad weights."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.activations import extract_activations
from xaiprobe.activations.plugin import import_factory, load_discriminator, load_weights
from xaiprobe.activations import ActivationStore

PLUGIN = textwrap.dedent('''
    import torch
    from torch import nn

    class MyD(nn.Module):
        def __init__(self, width=4):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                                      nn.Conv2d(width, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
            self.fc = nn.Linear(width * 16 * 16, 1)
            self.prob = nn.Sigmoid()

        def forward(self, x):
            return self.prob(self.fc(self.body(x).flatten(1))).squeeze(1)

    def make():
        return MyD()

    def make_wide():
        return MyD(width=6)

    not_a_model = lambda: 3
''')


@pytest.fixture
def plugin_file(tmp_path):
    path = tmp_path / "mydisc.py"
    path.write_text(PLUGIN)
    return path


def test_file_factory_with_weights(plugin_file, faces, tmp_path):
    ref = import_factory(f"{plugin_file}:make")()
    torch.save(ref.state_dict(), tmp_path / "w.pt")
    lm = load_discriminator(model=f"{plugin_file}:make", weights=tmp_path / "w.pt", logit_layer="fc")
    assert lm.sha256 and lm.arch["class"] == "MyD" and lm.generator is None
    for k, v in ref.state_dict().items():
        assert torch.equal(lm.discriminator.state_dict()[k], v)
    out = extract_activations(lm, faces, tmp_path / "a.h5", layers="all", pooling="mean", progress=False)
    with ActivationStore(out) as s, torch.no_grad():
        assert s.layers == ["conv1", "conv2"]
        np.testing.assert_allclose(1 / (1 + np.exp(-s.logits)), ref.eval()(faces.images()).numpy(), rtol=1e-5, atol=1e-6)


def test_weights_mismatch_names_keys_and_shapes(plugin_file, tmp_path):
    wide = import_factory(f"{plugin_file}:make_wide")()
    torch.save(wide.state_dict(), tmp_path / "wide.pt")
    with pytest.raises(XaiprobeError, match=r"shape mismatch body\.0\.weight"):
        load_discriminator(model=f"{plugin_file}:make", weights=tmp_path / "wide.pt")
    state = import_factory(f"{plugin_file}:make")().state_dict()
    state["extra.weight"] = state.pop("fc.weight")
    torch.save(state, tmp_path / "renamed.pt")
    with pytest.raises(XaiprobeError, match=r"missing keys fc\.weight.*unexpected keys extra\.weight"):
        load_discriminator(model=f"{plugin_file}:make", weights=tmp_path / "renamed.pt")


def test_weights_are_loaded_without_running_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    torch.save({"w": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(XaiprobeError, match="cannot be loaded safely"):
        load_weights(tmp_path / "evil.pt")
    torch.save({"module.a": torch.zeros(1)}, tmp_path / "dp.pt")
    assert list(load_weights(tmp_path / "dp.pt")) == ["a"]  # DataParallel prefix stripped


def test_bad_model_specs(plugin_file, checkpoint):
    for spec, match in [("nocolon", "expected pkg.module:factory"), ("no_such_pkg_xyz:f", "cannot import"),
                        (f"{plugin_file}:missing", "has no callable 'missing'.*make"),
                        (f"{plugin_file}:not_a_model", "not an nn.Module"),
                        ("/nope/file.py:f", "does not exist")]:
        with pytest.raises(XaiprobeError, match=match):
            load_discriminator(model=spec)
    with pytest.raises(XaiprobeError, match="exactly one"):
        load_discriminator()
    with pytest.raises(XaiprobeError, match="exactly one"):
        load_discriminator(checkpoint=checkpoint, model=f"{plugin_file}:make")
    with pytest.raises(XaiprobeError, match="unknown"):
        load_discriminator(checkpoint=checkpoint, logit_layer="nope")


def test_package_factory_and_random_init(plugin_file, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_file.parent))
    a = load_discriminator(model="mydisc:make", random_init=True, seed=2)
    b = load_discriminator(model="mydisc:make", random_init=True, seed=2)
    c = load_discriminator(model="mydisc:make", random_init=True, seed=3)
    assert torch.equal(a.discriminator.fc.weight, b.discriminator.fc.weight)
    assert not torch.equal(a.discriminator.fc.weight, c.discriminator.fc.weight)
    assert a.random_init


def test_checkpoint_gives_everything(checkpoint, faces):
    lm = load_discriminator(checkpoint=checkpoint)
    assert lm.generator is not None and lm.data_spec == faces.spec and len(lm.members) > 0
    assert lm.image_shape == (3, 64, 64) and len(lm.sha256) == 64

"""Targets: the logit, concept targets equal to probe(D up to layer), parsing and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.activations.hooks import run_with_cache
from xaiprobe.attribution import LayerOutput, TargetSpec, attribute, build_target, parse_target

from .attr_helpers import FailingD, count_hooks


def _fit_probe(D, images, layer, pooling):
    from xaiprobe.probes.linear import LinearProbe

    _, cache = run_with_cache(D.eval(), images, [layer], pooling=pooling)
    X = cache[layer].flatten(1).numpy()
    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, size=(len(X), 2)).astype(np.int8)
    Y[:2] = [[0, 1], [1, 0]]
    return LinearProbe(C=1.0, max_iter=50).fit(X, Y, attribute_names=["Smiling", "Young"]), X


def test_parse_target():
    assert parse_target("logit") == TargetSpec("logit")
    assert parse_target("concept:Smiling@conv3") == TargetSpec("concept", "Smiling", "conv3")
    assert str(parse_target("concept:Blond_Hair@main.7")) == "concept:Blond_Hair@main.7"
    assert parse_target("aux:Smiling") == TargetSpec("aux", "Smiling") and str(parse_target("aux:Smiling")) == "aux:Smiling"
    with pytest.raises(XaiprobeError, match="valid targets are logit, concept:NAME@LAYER .* and aux:NAME"):
        parse_target("realness")
    with pytest.raises(XaiprobeError, match="concept:NAME@LAYER"):
        parse_target("concept:Smiling")


@pytest.mark.parametrize("pooling", ["mean", "none"])
def test_concept_target_equals_probe_on_layer(tmp_path, tiny_d, images, pooling):
    probe, X = _fit_probe(tiny_d, images, "conv3", pooling)
    probe.save(tmp_path / "probe_conv3.pt", layer="conv3", attribute_names=["Smiling", "Young"], pooling=pooling)
    D = tiny_d.eval()
    tgt = build_target(D, "concept:Young@conv3", probes=tmp_path)
    with torch.no_grad():
        got = tgt(images)
    assert got.shape == (len(images), 1)
    want = probe.decision_function(X)[:, 1]
    np.testing.assert_allclose(got[:, 0].numpy(), want, rtol=1e-4, atol=1e-5)
    # the same probe reached through the module path of the layer
    tgt2 = build_target(D, "concept:Young@main.7", probes=tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(tgt2(images), got)
    # attribution of the concept works and differs from the logit's
    a = attribute(tiny_d, images[:2], "saliency", target="concept:Young@conv3", probes=tmp_path)
    b = attribute(tiny_d, images[:2], "saliency", target="logit")
    assert a.shape == (2, 64, 64) and not torch.allclose(a, b)


def test_concept_target_stops_at_layer(tiny_d, images):
    """Later layers are not run, so they cannot alter the captured activation."""
    D = tiny_d.eval()
    calls = []
    h = D.main[11].register_forward_hook(lambda *a: calls.append(1))
    try:
        out = LayerOutput(D, "conv3")(images)
    finally:
        h.remove()
    assert out.shape[1:] == (16, 8, 8) and not calls
    _, cache = run_with_cache(D, images, ["conv3"])
    torch.testing.assert_close(out.detach(), cache["conv3"])


def test_missing_probe_names_the_command(tmp_path, tiny_d, images):
    with pytest.raises(XaiprobeError, match=r"run `xaiprobe probe --activations FILE` first"):
        attribute(tiny_d, images[:2], "ig", target="concept:Smiling@conv3")
    (tmp_path / "probes").mkdir()
    with pytest.raises(XaiprobeError, match=r"no trained probe for layer conv3 .*run `xaiprobe probe --activations FILE` first"):
        attribute(tiny_d, images[:2], "ig", target="concept:Smiling@conv3", probes=tmp_path / "probes")


def test_unknown_concept_and_layer_list_options(tmp_path, tiny_d, images):
    probe, _ = _fit_probe(tiny_d, images, "conv3", "mean")
    probe.save(tmp_path / "probe_conv3.pt", layer="conv3", attribute_names=["Smiling", "Young"], pooling="mean")
    with pytest.raises(XaiprobeError, match="knows Smiling, Young"):
        attribute(tiny_d, images[:2], "ig", target="concept:Bald@conv3", probes=tmp_path)
    with pytest.raises(XaiprobeError, match="valid layers are conv1"):
        attribute(tiny_d, images[:2], "ig", target="concept:Smiling@conv12", probes=tmp_path)
    with pytest.raises(XaiprobeError, match=r"layers with probes: conv3"):
        attribute(tiny_d, images[:2], "ig", target="concept:Smiling@conv2", probes=tmp_path)


def test_layer_output_hook_removed_after_success_and_error(images):
    D = FailingD()
    body = LayerOutput(D, "conv2")
    body(images)
    assert count_hooks(D) == 0
    D.fail = True
    with pytest.raises(RuntimeError, match="planted failure"):
        body(images)
    assert count_hooks(D) == 0


def test_concept_target_from_decoder_file(tmp_path, tiny_d, images):
    from xaiprobe.probes.decoders import ConceptDecoder

    _, cache = run_with_cache(tiny_d.eval(), images, ["conv2"], pooling="avg2")
    X = cache["conv2"].flatten(1).numpy()
    Y = np.array([[0, 1], [1, 0]] * (len(X) // 2), dtype=np.int8)
    dec = ConceptDecoder(hidden=8, max_epochs=3).fit(X, Y, concept_names=["Smiling", "Male"])
    dec.save(tmp_path / "decoder_conv2.pt", layer="conv2", concept_names=["Smiling", "Male"], pooling="avg2")
    tgt = build_target(tiny_d.eval(), "concept:Male@conv2", probes=tmp_path)
    with torch.no_grad():
        got = tgt(images)[:, 0].numpy()
        want = dec.to_module()(torch.as_tensor(X))[:, 1].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_probe_from_other_pooling_is_one_line(tmp_path, tiny_d, images):
    probe, _ = _fit_probe(tiny_d, images, "conv3", "mean")
    # saved as if trained on full-resolution features: 16 features cannot be 16*8*8
    probe.save(tmp_path / "probe_conv3.pt", layer="conv3", attribute_names=["Smiling", "Young"], pooling="none")
    with pytest.raises(XaiprobeError, match="the probe takes 16 features but layer conv3 gives 1024"):
        attribute(tiny_d, images[:2], "saliency", target="concept:Smiling@conv3", probes=tmp_path)


class AuxD(torch.nn.Module):
    """A discriminator with an auxiliary attribute head: forward -> logit, aux_logits -> (n, 2)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.trunk = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 4, 4), torch.nn.Flatten())
        self.logit = torch.nn.Linear(4 * 16 * 16, 1)
        self.aux = torch.nn.Linear(4 * 16 * 16, 2)

    def forward(self, x):
        return self.logit(self.trunk(x))[:, 0]

    def aux_logits(self, x):
        return self.aux(self.trunk(x))


def test_aux_target_selects_a_column_of_the_auxiliary_head(images):
    D = AuxD().eval()
    tgt = build_target(D, "aux:Male", aux_names=["Smiling", "Male"])
    with torch.no_grad():
        torch.testing.assert_close(tgt(images), D.aux_logits(images)[:, 1:2])
    D.attribute_names = ["Smiling", "Male"]  # names from the model itself
    with torch.no_grad():
        torch.testing.assert_close(build_target(D, "aux:Smiling")(images), D.aux_logits(images)[:, :1])
    a = attribute(D, images[:2], "saliency", target="aux:Male")
    b = attribute(D, images[:2], "saliency", target="logit")
    assert a.shape == (2, 64, 64) and not torch.allclose(a, b)
    with pytest.raises(XaiprobeError, match="its attributes are Smiling, Male"):
        build_target(D, "aux:Bald")


def test_aux_target_on_a_model_without_an_auxiliary_head_is_one_line(tiny_d, images):
    with pytest.raises(XaiprobeError, match=r"^target aux:Smiling: the model \(Discriminator\) has no auxiliary "
                                            r"attribute head \(aux_logits\); use target logit"):
        attribute(tiny_d, images[:1], "saliency", target="aux:Smiling")

"""Hooks: aliases, clone semantics, removal on success and on error, pooling, run_with_cache."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from .conftest import PlainD, SigmoidD, count_hooks
from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.activations.hooks import (ActivationRecorder, alias_table, describe_layers, logits_of,
                                        pool_activation, resolve_layer, resolve_layers, run_with_cache)
from xaiprobe.testing.models import tiny_dcgan


def test_generic_module_gets_conv_aliases_at_block_outputs(plain_d):
    """One Conv2d -> one alias, at the activation that follows it in its nn.Sequential."""
    assert alias_table(plain_d) == {"conv1": "features.1", "conv2": "features.3", "conv3": "head.1"}
    name, path, module = resolve_layer(plain_d, "conv3")
    assert (name, path) == ("conv3", "head.1") and module is plain_d.head[1]
    assert resolve_layer(plain_d, "features.3")[0] == "conv2"  # a module path maps back to its alias
    assert resolve_layer(plain_d, "features.2")[0] == "features.2"  # the conv itself has no alias
    assert resolve_layer(plain_d, plain_d.head[3])[1] == "head.3"  # the module itself


class FunctionalD(nn.Module):
    """Activations applied in forward: no activation module follows the convs."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 4, 2, 1)
        self.block = nn.Sequential(nn.Conv2d(4, 8, 4, 2, 1), nn.BatchNorm2d(8), nn.Dropout(0.1), nn.ReLU())
        self.head = nn.Linear(8 * 16 * 16, 1)

    def forward(self, x):
        return self.head(self.block(nn.functional.relu(self.c1(x))).flatten(1))[:, 0]


def test_aliases_skip_normalization_and_keep_conv_output_without_activation_module():
    D = FunctionalD().eval()
    assert alias_table(D) == {"conv1": "c1", "conv2": "block.3"}
    records = {i.alias: i.records for i in describe_layers(D, (3, 64, 64)) if i.alias}
    assert records == {"conv1": "Conv2d output (no activation module follows it)",
                       "conv2": "block output after ReLU (Conv2d → BatchNorm2d → Dropout → ReLU)"}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        _, cache = run_with_cache(D, x, ["conv2"])
        assert torch.equal(cache["conv2"], D.block(nn.functional.relu(D.c1(x))))


def test_describe_layers_says_what_dcgan_aliases_record():
    _, D = tiny_dcgan(0)
    rec = {i.alias: i.records for i in describe_layers(D.eval()) if i.alias}
    assert rec["conv1"] == "block output after LeakyReLU (Conv2d → LeakyReLU)"
    assert rec["conv3"] == "block output after LeakyReLU (Conv2d → BatchNorm2d → LeakyReLU)"
    assert rec["conv5"] == "Conv2d output (no activation module follows it)"
    leaves = {i.module_path: i.records for i in describe_layers(D.eval()) if not i.alias}
    assert leaves["main.5"] == "Conv2d output, before BatchNorm2d → LeakyReLU"


def test_unknown_layer_lists_valid_names(plain_d):
    with pytest.raises(XaiprobeError) as e:
        resolve_layer(plain_d, "conv9")
    msg = str(e.value)
    assert "conv9" in msg and "conv1" in msg and "conv3" in msg and "features.0" in msg


def test_hooks_removed_after_success_and_after_exception(plain_d):
    x = torch.randn(2, 3, 64, 64)
    with ActivationRecorder(plain_d, "all") as rec:
        assert count_hooks(plain_d) == 3
        plain_d(x)
    assert count_hooks(plain_d) == 0 and set(rec.cache) == {"conv1", "conv2", "conv3"}

    def boom(module, inputs, output):
        raise RuntimeError("mid-forward failure")

    with pytest.raises(RuntimeError, match="mid-forward"):
        with ActivationRecorder(plain_d, ["conv1", "conv3"]):
            h = plain_d.features[2].register_forward_hook(boom)
            try:
                plain_d(x)
            finally:
                h.remove()
    assert count_hooks(plain_d) == 0
    with pytest.raises(RuntimeError):
        run_with_cache(plain_d, torch.randn(2, 3, 32, 31))  # shape error inside forward
    assert count_hooks(plain_d) == 0


def test_recorded_conv_output_is_cloned_before_inplace_relu(plain_d):
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        expected = plain_d.features[0](x)  # the conv output, computed on its own
    assert (expected < 0).any()  # LeakyReLU would change these values in place
    _, cache = run_with_cache(plain_d, x, ["features.0", "conv1"])
    assert torch.equal(cache["features.0"], expected)
    post_relu = nn.functional.leaky_relu(expected, 0.2)
    assert not torch.equal(cache["features.0"], post_relu)
    assert torch.equal(cache["conv1"], post_relu)


def test_dcgan_aliases_and_inplace_safety():
    _, D = tiny_dcgan(0)
    D.eval()
    x = torch.randn(2, 3, 64, 64)
    _, cache = run_with_cache(D, x, ["main.0", "conv1"])
    with torch.no_grad():
        conv = D.main[0](x)
    assert torch.equal(cache["main.0"], conv)  # hooked conv followed by in-place LeakyReLU
    assert torch.allclose(cache["conv1"], nn.functional.leaky_relu(conv, 0.2))


def test_names_filter_string_list_callable():
    _, D = tiny_dcgan(0)
    assert [r[0] for r in resolve_layers(D, "conv2")] == ["conv2"]
    assert [r[0] for r in resolve_layers(D, ["conv2", "main.4", "conv3"])] == ["conv2", "conv3"]  # deduplicated
    assert [r[0] for r in resolve_layers(D, lambda n: n in ("conv4", "conv5"))] == ["conv4", "conv5"]
    assert len(resolve_layers(D, None)) == 5
    with pytest.raises(XaiprobeError, match="matched no layer"):
        resolve_layers(D, lambda n: False)


@pytest.mark.parametrize("pooling,shape", [("none", (2, 4, 8, 8)), ("mean", (2, 4)), ("max", (2, 4)), ("avg2", (2, 4, 2, 2))])
def test_pooling_shapes(pooling, shape):
    t = torch.randn(2, 4, 8, 8)
    assert tuple(pool_activation(t, pooling).shape) == shape
    assert pool_activation(torch.randn(2, 5), "mean").shape == (2, 5)


def test_pooling_values_and_unknown():
    t = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    assert torch.equal(pool_activation(t, "max")[:, 0], torch.tensor([15.0, 31.0]))
    assert torch.allclose(pool_activation(t, "avg1")[:, 0, 0, 0], t.mean(dim=(1, 2, 3)))
    for bad in ("avg", "avg0", "median"):
        with pytest.raises(XaiprobeError, match="pooling"):
            pool_activation(t, bad)


def test_recorder_dtype_and_pooling(plain_d):
    x = torch.randn(2, 3, 64, 64)
    _, full = run_with_cache(plain_d, x, ["conv2"])
    with torch.no_grad(), ActivationRecorder(plain_d, ["conv2"], pooling="mean", dtype=torch.float16) as rec:
        plain_d(x)
    assert rec.cache["conv2"].dtype == torch.float16
    assert torch.allclose(rec.cache["conv2"].float(), full["conv2"].mean(dim=(2, 3)), atol=1e-2)


def test_logits_of_with_logit_layer():
    torch.manual_seed(0)
    D = SigmoidD().eval()
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        p = D(x)
        z = logits_of(D, x, "head.3")
    assert z.shape == (4,) and torch.allclose(torch.sigmoid(z), p, atol=1e-6)


def test_describe_layers_shapes(plain_d):
    info = {i.module_path: i for i in describe_layers(plain_d, (3, 64, 64))}
    assert info["features.1"].alias == "conv1" and info["features.1"].output_shape == (4, 32, 32)
    assert info["features.0"].alias == "" and info["features.0"].records == "Conv2d output, before LeakyReLU"
    assert info["head.3"].output_shape == (1,) and info["head.3"].n_params == 4 * 64 + 1
    assert count_hooks(plain_d) == 0

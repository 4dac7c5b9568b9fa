"""Attribution methods: shapes, planted signal, bad input, the caller's model untouched."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.attribution import METHODS, attribute
from xaiprobe.attribution import localization_scores

from .attr_helpers import FailingD, QuadrantD, count_hooks, quadrant_mask


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_gives_nontrivial_maps(method, tiny_d, images):
    maps = attribute(tiny_d, images[:4], method, n_steps=8) if method == "ig" else attribute(tiny_d, images[:4], method)
    assert maps.shape == (4, 64, 64)
    assert maps.dtype == torch.float32
    assert torch.isfinite(maps).all()
    assert maps.abs().sum() > 0
    # maps differ between images (they depend on the input)
    assert (maps[0] - maps[1]).abs().sum() > 0


@pytest.mark.parametrize("method", ["ig", "saliency", "occlusion", "gradshap", "smoothgrad"])
def test_planted_quadrant_signal_is_localized(method, images):
    D = QuadrantD()
    maps = attribute(D, images, method)
    s = localization_scores(maps.numpy(), quadrant_mask(len(images)), tolerance=0)
    ratio = np.nanmean(s["share"]) / np.mean(s["area"])
    assert ratio > 2, f"{method}: ratio {ratio:.2f}"
    assert s["hit"].mean() >= 0.75


def test_gradcam_on_named_layer_and_default(tiny_d, images):
    a = attribute(tiny_d, images[:2], "gradcam", layer="conv2")
    b = attribute(tiny_d, images[:2], "gradcam", layer="main.5")  # a conv module path
    c = attribute(tiny_d, images[:2], "gradcam")  # default: conv3 (8x8)
    assert a.shape == b.shape == c.shape == (2, 64, 64)
    assert not torch.allclose(a, c)


def test_users_model_untouched(tiny_d, images):
    tiny_d.train()
    before = {k: v.clone() for k, v in tiny_d.state_dict().items()}
    for m in ("ig", "gradcam", "occlusion"):
        attribute(tiny_d, images[:2], m, n_steps=4) if m == "ig" else attribute(tiny_d, images[:2], m)
    assert tiny_d.training
    assert tiny_d.main[1].inplace is True
    assert count_hooks(tiny_d) == 0
    for k, v in tiny_d.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_matches_captum_directly(tiny_d, images):
    from captum.attr import IntegratedGradients

    D = tiny_d.eval()
    ours = attribute(D, images[:3], "ig", n_steps=10)
    ref = IntegratedGradients(D).attribute(images[:3], baselines=0.0, n_steps=10).sum(1)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-9)


def test_unknown_method_lists_options(tiny_d, images):
    with pytest.raises(XaiprobeError, match="valid methods are ig, saliency, gradshap, smoothgrad, gradcam, occlusion"):
        attribute(tiny_d, images, "lrp-magic")


def test_wrong_image_size_is_one_clear_error(tiny_d):
    with pytest.raises(XaiprobeError, match="64x64"):
        attribute(tiny_d, torch.zeros(2, 3, 32, 32), "saliency")
    with pytest.raises(XaiprobeError, match=r"\(n, C, H, W\)"):
        attribute(tiny_d, torch.zeros(3, 64, 64), "saliency")
    # a model without a config: detected by a trial forward
    with pytest.raises(XaiprobeError, match="the model fails on images of shape"):
        attribute(QuadrantD(), torch.zeros(2, 3, 32, 32), "saliency")
    with pytest.raises(XaiprobeError, match="uint8"):
        attribute(tiny_d, torch.zeros(2, 3, 64, 64, dtype=torch.uint8), "saliency")


def test_unknown_gradcam_layer_lists_layers(tiny_d, images):
    with pytest.raises(XaiprobeError, match="valid layers are conv1"):
        attribute(tiny_d, images[:2], "gradcam", layer="conv9")


def test_hooks_removed_after_success_and_error(images):
    from xaiprobe.attribution import build_target

    D = FailingD().eval()
    fwd = build_target(D, "logit")
    attribute(D, images[:2], "gradcam", target=fwd, layer="conv1")
    assert count_hooks(D) == 0
    D.fail = True
    with pytest.raises(RuntimeError, match="planted failure"):
        attribute(D, images[:2], "gradcam", target=fwd, layer="conv1")
    assert count_hooks(D) == 0


def test_inplace_activations_do_not_change_gradcam(tiny_d, images):
    """In-place LeakyReLU after a hooked layer leaves Grad-CAM unchanged (Captum clones outputs)."""
    from xaiprobe._utils.coerce import private_copy
    from xaiprobe.attribution import build_target

    kept = tiny_d.eval()
    off = private_copy(tiny_d)
    for m in off.modules():
        if getattr(m, "inplace", False):
            m.inplace = False
    assert kept.main[4].inplace and not off.main[4].inplace
    for layer in ("main.3", "conv2", "main.6"):
        a = attribute(kept, images[:2], "gradcam", target=build_target(kept, "logit"), layer=layer)
        b = attribute(off, images[:2], "gradcam", target=build_target(off, "logit"), layer=layer)
        torch.testing.assert_close(a, b)


def test_unknown_option_is_one_line(tiny_d, images):
    with pytest.raises(XaiprobeError, match="method ig: got an unexpected keyword argument 'n_step'.*n_steps"):
        attribute(tiny_d, images[:1], "ig", n_step=3)


def test_the_callers_model_is_used_in_eval_mode_and_left_as_it_was(tiny_d, images):
    """No copy, no move, no gradient left on the parameters, the training mode restored."""
    D = tiny_d.train()
    before = {k: v.clone() for k, v in D.state_dict().items()}
    for m in ("ig", "gradcam", "occlusion"):
        attribute(D, images[:2], m, n_steps=4) if m == "ig" else attribute(D, images[:2], m)
    assert D.training and all(m.training for m in D.modules())
    assert all(p.grad is None for p in D.parameters())
    assert all(torch.equal(before[k], v) for k, v in D.state_dict().items())  # BatchNorm statistics untouched
    assert count_hooks(D) == 0

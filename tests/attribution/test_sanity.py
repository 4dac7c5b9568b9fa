"""Cascading randomization: maps of real methods change, a model-blind method is flagged."""
from __future__ import annotations

import numpy as np
import torch

from xaiprobe.attribution import AttributionMethod, randomization_cascade, sanity_check
from xaiprobe.attribution._sanity import randomize, spearman_per_image

from .attr_helpers import QuadrantD


class InputMagnitude(AttributionMethod):
    """A fake "attribution" that ignores the model: |pixels| summed over channels."""

    name = "input-magnitude"
    needs_grad = False

    def _attribute(self, images, target, kw):
        return images.abs().sum(1)


def test_cascade_order_is_top_down(tiny_d):
    steps = randomization_cascade(tiny_d)
    assert [s for s, _ in steps] == ["conv5", "conv4", "conv3", "conv2", "conv1"]
    assert steps[1][1] == ["main.8", "main.9"]  # conv4 with its batch norm
    assert [s for s, _ in randomization_cascade(tiny_d, upto="conv3")] == ["conv3", "conv2", "conv1"]


def test_randomize_copies_and_reinitializes(tiny_d):
    r = randomize(tiny_d, ["main.11"], seed=1)
    assert not torch.equal(r.main[11].weight, tiny_d.main[11].weight)
    assert torch.equal(r.main[0].weight, tiny_d.main[0].weight)


def test_spearman_per_image():
    a = np.random.default_rng(0).normal(size=(3, 8, 8))
    np.testing.assert_allclose(spearman_per_image(a, 2 * a), 1.0)
    assert np.isnan(spearman_per_image(np.zeros((1, 4, 4)), a[:1])).all()


def test_maps_change_under_randomization_and_blind_method_flagged(images):
    res = sanity_check(QuadrantD(), images[:6], ["saliency", "ig", InputMagnitude], seed=0)
    assert res.steps == ["conv2", "conv1"]
    rho = dict(zip(res.methods, res.spearman[:, -1]))
    assert rho["saliency"] < 0.5 and rho["ig"] < 0.5
    assert rho["input-magnitude"] > 0.99
    assert res.flagged == {"saliency": False, "ig": False, "input-magnitude": True}
    md = res.to_markdown()
    assert "input-magnitude" in md and "**yes**" in md


def test_sanity_on_dcgan_all_methods(tiny_d, images):
    res = sanity_check(tiny_d, images[:3], ["saliency", "gradcam", "occlusion"],
                       method_kwargs={"occlusion": {"window": 16, "stride": 16}})
    assert res.spearman.shape == (3, 5)
    assert np.isfinite(res.spearman[:, 0]).all()
    # the tiny DCGAN's maps move once its layers are destroyed
    assert (res.spearman[:, -1] < 0.9).all()

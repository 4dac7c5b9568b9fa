"""The measurements on planted cases: a conditional G reads ~1.0, a G that ignores y ~ chance."""
from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from xaiprobe.conditional import conditional_accuracy, diversity, draw_label_rows, reconstruction_error

from .conftest import NAMES, ColourClassifier, PaintG, planted_labels


def test_label_rows_follow_the_joint_distribution_and_request_rare_values():
    Y = planted_labels(400)
    rows = draw_label_rows(Y, 64, NAMES, seed=0)
    assert rows.n_base == 64 and set(rows.extra) == {"Blue"} and rows.extra["Blue"] == 1
    blue = rows.mask[:, 1]
    assert rows.labels[blue, 1].min() == 0 and rows.labels[blue, 1].max() == 1  # both classes requested
    assert rows.mask[64:, 0].sum() == 0  # the extra rows count only for their attribute
    assert 0.3 < rows.labels[:64, 0].mean() < 0.7


def test_conditional_generator_reads_one_and_ignoring_generator_reads_chance():
    Y = planted_labels(400)
    rows = draw_label_rows(Y, 96, NAMES, seed=1)
    clf = ColourClassifier()
    follow = conditional_accuracy(PaintG(follow=True), clf, rows, seed=1, n_boot=50)
    ignore = conditional_accuracy(PaintG(follow=False), clf, rows, seed=1, n_boot=50)
    assert follow.classifier.bacc.min() > 0.99 and follow.classifier.mean_lo > 0.95
    assert abs(ignore.classifier.mean - 0.5) < 0.12
    assert ignore.classifier.mean_lo < 0.5 < ignore.classifier.mean_hi or abs(ignore.classifier.mean - 0.5) < 0.05
    # the control: the same images against shuffled requests sit at chance
    assert abs(follow.shuffled.mean - 0.5) < 0.15


def test_aux_head_view_is_scored_on_the_same_images():
    class AuxD(nn.Module):
        def aux_logits(self, x):
            return 10 * x.mean(dim=(2, 3))[:, [0, 2]]

        def forward(self, x):
            return x.mean(dim=(1, 2, 3))

    rows = draw_label_rows(planted_labels(200), 48, NAMES, seed=2)
    res = conditional_accuracy(PaintG(), ColourClassifier(), rows, discriminator=AuxD(), n_boot=20)
    assert res.aux is not None and res.aux.mean > 0.99


def test_reconstruction_error_against_its_controls():
    class CopyEncoder(nn.Module):
        def forward(self, x):
            return torch.zeros(len(x), 1), x.flatten(1)

    class CopyG(nn.Module):
        conditional = True
        config = SimpleNamespace(nz=3 * 64 * 64, n_attributes=1)

        def forward(self, z, labels):
            return z.view(-1, 3, 64, 64)

    x = torch.rand(12, 3, 64, 64) * 2 - 1
    r = reconstruction_error(CopyEncoder(), CopyG(), x, n_boot=20)
    assert r["mae"]["mean"] < 1e-6
    assert r["shuffled"]["lo"] > 0.3 and r["mean_image"]["mean"] > 0.3


def test_diversity_is_zero_for_a_collapsed_set():
    assert diversity(torch.ones(10, 4), n_boot=0)["mean"] == 0
    assert diversity(torch.randn(10, 4), n_boot=20)["mean"] > 0.5

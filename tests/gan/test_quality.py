"""Sample quality: FD and k-NN precision/recall on planted feature sets, bad feature modules, the stage."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.gan.quality import (check_feature_module, epoch_metrics, frechet_distance, precision_recall,
                                  quality_from_features, sample_quality)


def gaussian(n=300, d=8, shift=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


def test_fd_is_zero_for_a_set_against_itself_and_grows_with_a_planted_shift():
    x = gaussian()
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    fds = [frechet_distance(x, gaussian(seed=1, shift=s)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert fds == sorted(fds) and fds[0] < 0.3
    # the mean term dominates: |shift vector|^2 = d * s^2 = 8 * 4 for s = 2
    assert fds[-1] == pytest.approx(32, rel=0.15)


def modes(n, centers, seed):
    g = torch.Generator().manual_seed(seed)
    c = torch.as_tensor(centers, dtype=torch.float64)
    pick = torch.arange(n) % len(c)
    return c[pick] + 0.3 * torch.randn(n, c.shape[1], generator=g, dtype=torch.float64)


def test_precision_recall_of_identical_sets_and_of_a_collapsed_generator():
    centers = 6.0 * torch.eye(4, dtype=torch.float64)
    real = modes(200, centers, seed=0)
    in_real, in_fake = precision_recall(real, real, k=3)
    assert in_real.mean() == 1.0 and in_fake.mean() == 1.0
    fresh = quality_from_features(real, modes(200, centers, seed=1), k=3)
    assert fresh.precision > 0.85 and fresh.recall > 0.85
    collapsed = quality_from_features(real, modes(200, centers[:2], seed=1), k=3, n_boot=50)
    assert collapsed.precision > 0.85                 # what it draws is realistic ...
    assert 0.4 < collapsed.recall < 0.6               # ... but it covers only half the modes
    lo, hi = collapsed.recall_interval
    assert lo <= collapsed.recall <= hi and math.isfinite(collapsed.fd_interval[0])


class Flat(nn.Module):
    """Accepts only flat 12-d input: a feature module that rejects 64x64 images."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 4)

    def forward(self, x):
        return self.fc(x)


def tiny_features(d=6):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, d, 8, 8), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_bad_feature_modules_are_one_line_errors():
    with pytest.raises(XaiprobeError, match=r"feature module Flat: fails on images \(2, 3, 64, 64\)"):
        check_feature_module(Flat())
    with pytest.raises(XaiprobeError, match=r"returns \(2, 4, 8, 8\).*not a \(2, D\) tensor"):
        check_feature_module(nn.Conv2d(3, 4, 8, 8))
    assert check_feature_module(tiny_features()) == 6
    with pytest.raises(XaiprobeError, match="feature module Flat"):
        sample_quality(lambda n: torch.zeros(n, 3, 64, 64), torch.zeros(10, 3, 64, 64), features=Flat(), n=8)


def test_sample_quality_with_a_callable_sampler():
    real = torch.rand(40, 3, 64, 64) * 2 - 1
    same = sample_quality(lambda n: real[:n].clone(), real, features=tiny_features(), n=40, k=2, n_boot=0)
    assert same.fd == pytest.approx(0, abs=1e-6) and same.precision == 1.0 and same.recall == 1.0
    off = sample_quality(lambda n: torch.full((n, 3, 64, 64), 0.9), real, features=tiny_features(), n=40, k=2,
                         n_boot=0)
    assert off.fd > 0.01 and off.recall < 0.2
    with pytest.raises(XaiprobeError, match=r"generator: gave \(3, 3, 32, 32\)"):
        sample_quality(lambda n: torch.zeros(3, 3, 32, 32), real, features=tiny_features(), n=3, k=1)


def test_epoch_metrics_of_a_tiny_gan():
    from xaiprobe.testing.models import tiny_dcgan

    G, D = tiny_dcgan(0)
    G.train()
    D.eval()
    real = torch.rand(24, 3, 64, 64) * 2 - 1
    z = torch.randn(24, 8)
    m = epoch_metrics(G, D, real, z, tiny_features(), k=2)
    assert set(m) == {"fd", "precision", "recall", "d_auc"}
    assert all(math.isfinite(v) for v in m.values()) and 0 <= m["d_auc"] <= 1
    assert G.training and not D.training  # modes restored


def test_quality_stage_cli(tmp_path, monkeypatch, capsys):
    from xaiprobe.cli.main import main
    from xaiprobe.editing.classifier import AttributeClassifier, save_classifier
    from xaiprobe.report import Section
    from xaiprobe.testing.data import tiny_faces
    from xaiprobe.testing.models import tiny_checkpoint

    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    ck = tiny_checkpoint(tmp_path / "tiny.pt", tiny_faces(20))
    torch.manual_seed(0)
    clf = save_classifier(tmp_path / "clf.pt", AttributeClassifier(["a", "b"], width=2), metrics={})
    args = ["quality", "--checkpoint", str(ck), "--data", "synthfaces:80", "--n", "4", "--k", "1",
            "--classifier", str(clf), "--n-boot", "20", "--out", str(tmp_path / "run")]
    assert main(args) == 0
    sec = Section.load(tmp_path / "run" / "quality")
    for key in ("fd", "precision", "recall", "fd_real", "recall_real", "fd_random", "precision_random"):
        assert math.isfinite(sec.numbers[key]), key
    assert sec.numbers["n"] == 4 and sec.numbers["feature_dim"] == 16
    assert (tmp_path / "run" / "quality" / "quality.png").is_file()
    assert sec.command[0].startswith("xaiprobe quality --checkpoint")
    # too few real images for two halves of --n: rejected before anything is written
    bad = ["quality", "--checkpoint", str(ck), "--data", "synthfaces:80", "--n", "5", "--classifier", str(clf),
           "--out", str(tmp_path / "run2")]
    assert main(bad) == 2
    assert "real vs real needs 2 x n" in capsys.readouterr().err
    assert not (tmp_path / "run2" / "quality").exists()


def test_training_records_sample_quality_every_epoch(trained_run):
    from xaiprobe.editing.classifier import shipped_classifier_path
    from xaiprobe.gan.checkpoint import read_checkpoint_dict

    if not shipped_classifier_path().is_file():
        pytest.skip("no shipped classifier in this checkout")
    _, last = trained_run
    history = read_checkpoint_dict(last)["extra"]["history"]
    assert len(history) == 3
    for row in history:
        assert {"fd", "precision", "recall", "d_auc"} <= set(row)
        assert row["fd"] >= 0 and 0 <= row["precision"] <= 1 and 0 <= row["d_auc"] <= 1

"""Probe comparison: a planted linear signal is readable, noise is not, and too few positives are not called."""
from __future__ import annotations

import numpy as np

from xaiprobe.conditional import probe_grid, readability


def test_probe_grid_planted_signal_and_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (120, 2)).astype(np.int8)
    signal = np.c_[y[:, 0] + 0.3 * rng.standard_normal(120), rng.standard_normal((120, 5))]
    noise = rng.standard_normal((120, 6))
    tr, te = np.arange(80), np.arange(80, 120)
    grid = probe_grid({("aeacgan", "fc"): signal, ("aeacgan_random", "fc"): noise}, y, ["a", "b"], tr, te,
                      Cs=(0.1,), n_boot=50)
    s, r = grid.row("aeacgan", "fc"), grid.row("aeacgan_random", "fc")
    assert grid.auc[s, 0] > 0.9 and abs(grid.auc[r, 0] - 0.5) < 0.25
    summary = readability(grid, n_boot=100)
    assert summary[0]["readable"] and not summary[1]["readable"]
    assert summary[0]["gain_random_lo"] > 0


def test_rare_attribute_is_not_called_readable():
    rng = np.random.default_rng(1)
    y = np.zeros((120, 1), np.int8)
    y[rng.choice(120, 8, replace=False), 0] = 1
    signal = np.c_[y[:, 0] * 3.0 + 0.1 * rng.standard_normal(120), rng.standard_normal((120, 3))]
    tr, te = np.arange(60), np.arange(60, 120)
    grid = probe_grid({("aeacgan", "fc"): signal, ("aeacgan_random", "fc"): rng.standard_normal((120, 4))}, y, ["r"],
                      tr, te, n_boot=50)
    (s,) = readability(grid, n_boot=50)
    assert not s["enough"] and not s["readable"] and s["n_pos"] < 10

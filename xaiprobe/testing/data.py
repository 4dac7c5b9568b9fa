"""Tiny deterministic data sets for tests (rendered in memory, no disk cache)."""
from __future__ import annotations

import numpy as np


def tiny_faces(n: int = 64, seed: int = 0):
    """``n`` SynthFaces (>= 10 so every split is present) as an ImageSet, spec ``synthfaces:n:seed``."""
    from ..data.synthcache import load_synthfaces

    return load_synthfaces(max(int(n), 10), int(seed), cache=False)


def tiny_digits(n: int = 100):
    """``n`` digits (about 80/10/10 over the splits, classes mixed) as an ImageSet."""
    from ..data.digits import load_digits

    d = load_digits()
    n = max(10, min(int(n), len(d)))
    counts = {0: n - 2 * max(1, n // 10), 1: max(1, n // 10), 2: max(1, n // 10)}
    rows = np.sort(np.concatenate([d.rows_of(s)[:k] for s, k in counts.items()]))
    return d.subset(rows)

"""Small numeric predicates shared by the stage summaries."""
from __future__ import annotations

import math

import numpy as np


def finite(x) -> bool:
    """True for a real, finite number (not None, not a bool, not NaN or infinite)."""
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) and math.isfinite(x)

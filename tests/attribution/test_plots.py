"""Figure helpers of the attribution stage."""
from __future__ import annotations

from xaiprobe._utils.figures import color_for
from xaiprobe.attribution._plots import region_colors


def test_region_colors_are_distinct_and_follow_the_attribute_colors():
    regions = ["mouth", "glasses", "hair", "face", "eyes", "box"]
    colors = region_colors(regions)
    assert len(set(colors.values())) == len(regions)
    assert colors["mouth"] == color_for("Smiling") and colors["glasses"] == color_for("Eyeglasses")


def test_importing_and_plotting_leave_the_matplotlib_state_alone():
    """No backend switch and no global rcParams change (figures are drawn in a style context)."""
    import subprocess
    import sys

    code = """
import matplotlib
backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)
import numpy as np
import xaiprobe.attribution, xaiprobe.editing, xaiprobe.mia
from xaiprobe.attribution._plots import plot_filter_grid
from xaiprobe.editing import plot_entanglement
fig, _ = plot_filter_grid(np.zeros((8, 8, 3)))
fig, _ = plot_entanglement(np.eye(2), ["a", "b"])
assert matplotlib.get_backend() == backend
changed = [k for k, v in matplotlib.rcParams.items() if k in rc and rc[k] != v and k != "backend"]
assert not changed, changed
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]

"""Figure helpers of the attribution stage."""
from __future__ import annotations

from xaiprobe.attribution.plots import region_colors
from xaiprobe.report.style import color_for


def test_region_colors_are_distinct_and_follow_the_attribute_colors():
    regions = ["mouth", "glasses", "hair", "face", "eyes", "box"]
    colors = region_colors(regions)
    assert len(set(colors.values())) == len(regions)
    assert colors["mouth"] == color_for("Smiling") and colors["glasses"] == color_for("Eyeglasses")

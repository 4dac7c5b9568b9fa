import numpy as np
import pytest

from xaiprobe.probes.decode_summaries import decoder_findings, distribution_findings, rate_gap_ci


def test_distribution_findings_use_the_interval_of_the_difference():
    def row(layer, c, g, r, true):
        lo, hi = rate_gap_ci(g, 1000, r, 300)
        return {"layer": layer, "concept": c, "generated_rate": g, "real_rate": r, "true_rate": true, "gap": g - r,
                "gap_lo": lo, "gap_hi": hi, "n_generated": 1000, "n_real": 300}

    rows = [row("c4", "Eyeglasses", 0.04, 0.12, 0.11), row("c4", "Smiling", 0.52, 0.50, 0.49),
            row("c3", "Eyeglasses", 0.05, 0.10, 0.11), row("c3", "Smiling", 0.6, 0.5, 0.49)]
    f = distribution_findings(rows, "c4", {"c3": 0.8, "c4": 0.9})
    assert f[0].startswith("The GAN under-produces (as D's c4 decoder sees them, 1000 generated vs 300 real images): "
                           "Eyeglasses in 4.0% of samples vs 12.0% of real images")
    assert f[1].startswith("Generated and real rates agree within noise") and "Smiling 52.0% vs 50.0%" in f[1]
    assert "Eyeglasses 1 of 1" in f[2]
    assert f[3].startswith("On the real images the c4 decoder's rates are within 1.0 points of the true labels")
    lo, hi = rate_gap_ci(0.5, 100, 0.5, 100)
    assert lo == pytest.approx(-hi) and hi == pytest.approx(1.96 * np.sqrt(0.005), rel=1e-3)


def test_decoder_findings_compare_with_the_linear_probes():
    rows = [{"layer": la, "concept": c, "auc": auc, "auc_lo": auc - 0.05, "auc_hi": auc + 0.05}
            for la, c, auc in (("c1", "A", 0.7), ("c1", "B", 0.8), ("c2", "A", 0.9), ("c2", "B", 0.95))]
    index = [{"layer": "c1", "mean_auc": 0.75, "top1": float("nan")}, {"layer": "c2", "mean_auc": 0.925,
                                                                       "top1": float("nan")}]
    f = decoder_findings(rows, index, False, {"c1": 0.76, "c2": 0.85})
    assert f[0] == "Best decoder layer c2: mean test AUC 0.925 over 2 concepts; weakest c1 (0.750)."
    assert f[1] == "Best layer per concept: A c2 0.900 [0.850, 0.950]; B c2 0.950 [0.900, 1.000]."
    assert "largest at c2: 0.925 vs 0.850" in f[2] and "reads more than a linear probe" in f[2]
    assert "no more than a linear probe" in decoder_findings(rows, index, False, {"c1": 0.75, "c2": 0.93})[2]

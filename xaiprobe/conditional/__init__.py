"""The AE-ACGAN's measurements (``xaiprobe aeacgan``): what training with labels does to a GAN.

For an auto-encoder + auxiliary-classifier GAN checkpoint (``xaiprobe train --arch aeacgan``):

1. conditional generation — an independent attribute classifier's balanced accuracy on
   G(z, y) for the requested y, per attribute, beside the auxiliary head's own view of the same
   images and a shuffled-request control;
2. the auxiliary head's balanced accuracy on real test images beside the classifier's (control:
   a random-init head);
3. the auto-encoder's reconstruction error beside reconstructing from another image's code and
   the mean image;
4. sample quality (Fréchet distance, precision/recall in the classifier's features) beside a
   DCGAN's and the real-vs-real floor;
5. mode collapse — diversity and recall with the auto-encoder step and without it (``--ablation``);
6. what D knows with and without labels — linear-probe ROC-AUC per layer x attribute for the
   AE-ACGAN's D, a DCGAN's D, a random-init D of each architecture and 8x8 pixels.

Every number carries a 95% bootstrap interval. The stage is ``NAME``, ``Config``, ``run`` and
``section`` (RUN/aeacgan and the report's section); the measurement functions are public for
scripts.

Python::

    from xaiprobe.conditional import Config, run, section
    res = run(Config(checkpoint="runs/aeac/checkpoints/last.pt", dcgan="runs/dc/checkpoints/last.pt"), "runs/aeac")
    section(res).numbers["cond_clf_bacc"]
"""
from ._measure import (MIN_SHARE, AttributeScores, ConditionalResult, LabelRows, balanced_accuracy,
                       conditional_accuracy, diversity, draw_label_rows, real_accuracy, reconstruction_error,
                       score_attributes)
from ._probes import PROBE_LAYERS, ProbeGrid, layer_features, pixel_features, probe_grid, readability
from ._stage import HELP, NAME, ORDER, TITLE, Config, Result, run

__all__ = ["NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section",
           "LabelRows", "draw_label_rows", "conditional_accuracy", "ConditionalResult", "AttributeScores",
           "score_attributes", "balanced_accuracy", "real_accuracy", "reconstruction_error", "diversity", "MIN_SHARE",
           "PROBE_LAYERS", "ProbeGrid", "layer_features", "pixel_features", "probe_grid", "readability"]


def section(result: Result):
    """The report section: headline, findings, tables and figures computed from ``result``."""
    from ._section import build_section

    return build_section(result, NAME, TITLE, ORDER)

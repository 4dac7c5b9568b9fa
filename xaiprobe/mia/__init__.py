"""Membership inference from discriminator scores: does D remember its training images?

Score-based attack (higher score = more likely a member) on the discriminator's logit, or on
the logit calibrated by a reference discriminator; threshold chosen on a calibration part,
metrics (ROC-AUC, accuracy, balanced accuracy, TPR at low FPR, LOGAN precision, bootstrap
intervals) on the test part; a positive control that surely memorizes; the attack by epoch.

The package is the ``xaiprobe mia`` stage: ``Config``, ``run(config, run_dir)`` and
``section(result)`` (:mod:`._stage`). Implementation modules are private; this namespace is the
public API.
"""
from ._attack import MIAResult, attack_scores, calibration_split
from ._control import ControlResult, positive_control
from ._epochs import EpochCurve, attack_by_epoch, epoch_checkpoints
from ._inference import MembershipInference, discriminator_logits, load_data, membership_attack
from ._metrics import (MeasurabilityWarning, attack_metrics, best_threshold, logan_precision, roc_auc, roc_curve,
                       threshold_metrics, tpr_at_fpr)
from ._plots import plot_attack_comparison, plot_auc_by_epoch, plot_roc, plot_score_histograms
from ._samples import SampleSplit, load_index_file, select_samples
from ._stage import HELP, NAME, ORDER, TITLE, Config, Result, run, run_mia, section

__all__ = [
    "NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section", "run_mia",
    "MIAResult", "attack_scores", "calibration_split",
    "MembershipInference", "membership_attack", "discriminator_logits", "load_data",
    "positive_control", "ControlResult",
    "attack_by_epoch", "EpochCurve", "epoch_checkpoints",
    "roc_curve", "roc_auc", "tpr_at_fpr", "logan_precision", "best_threshold", "threshold_metrics",
    "attack_metrics", "MeasurabilityWarning",
    "select_samples", "SampleSplit", "load_index_file",
    "plot_roc", "plot_score_histograms", "plot_auc_by_epoch", "plot_attack_comparison",
]

"""Membership inference from discriminator scores: does D remember its training images?

Score-based attack (higher score = more likely a member) on the discriminator's logit, or on
the logit calibrated by a reference discriminator; threshold chosen on a calibration part,
metrics (ROC-AUC, accuracy, balanced accuracy, TPR at low FPR, LOGAN precision, bootstrap
intervals) on the test part; a positive control that surely memorizes; the attack by epoch.
"""
from .attack import MIAResult, attack_scores, calibration_split
from .control import ControlResult, positive_control
from .epochs import EpochCurve, attack_by_epoch, epoch_checkpoints
from .inference import MembershipInference, discriminator_logits, membership_attack
from .metrics import (MeasurabilityWarning, attack_metrics, best_threshold, logan_precision, roc_auc, roc_curve,
                      threshold_metrics, tpr_at_fpr)
from .plots import plot_attack_comparison, plot_auc_by_epoch, plot_roc, plot_score_histograms
from .report import write_outputs
from .samples import SampleSplit, load_index_file, select_samples

__all__ = [
    "MIAResult", "attack_scores", "calibration_split",
    "MembershipInference", "membership_attack", "discriminator_logits",
    "positive_control", "ControlResult",
    "attack_by_epoch", "EpochCurve", "epoch_checkpoints",
    "roc_curve", "roc_auc", "tpr_at_fpr", "logan_precision", "best_threshold", "threshold_metrics",
    "attack_metrics", "MeasurabilityWarning",
    "select_samples", "SampleSplit", "load_index_file",
    "plot_roc", "plot_score_histograms", "plot_auc_by_epoch", "plot_attack_comparison",
    "write_outputs",
]

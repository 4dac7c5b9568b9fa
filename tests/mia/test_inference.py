"""The attack on real (tiny) checkpoints: member selection, overlap, references."""
import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.gan.checkpoint import load_checkpoint, save_checkpoint
from xaiprobe.mia import MembershipInference, membership_attack, select_samples
from xaiprobe.mia._samples import index_space

pytestmark = pytest.mark.filterwarnings("ignore::xaiprobe.mia.MeasurabilityWarning")


def test_index_space():
    assert index_space("synthfaces") == index_space("synthfaces:16000") == index_space("synthfaces:8000:0")
    assert index_space("synthfaces:8000:1") != index_space("synthfaces:8000")
    assert index_space("digits") == "digits"


def test_members_from_checkpoint_nonmembers_heldout_balanced(faces, tiny_ckpt):
    ckpt = load_checkpoint(tiny_ckpt)
    sel = select_samples(faces, ckpt.members, seed=0)
    assert np.intersect1d(sel.member_index, sel.nonmember_index).size == 0
    assert np.isin(sel.member_index, ckpt.members).all()
    assert sel.member_rows.size == sel.nonmember_rows.size == (faces.split != 0).sum()
    assert set(sel.info["nonmembers_from"]) == {"val", "test"}
    sel2 = select_samples(faces, ckpt.members, seed=0, n_max=5)
    assert sel2.member_rows.size == sel2.nonmember_rows.size == 5


def test_membership_attack_end_to_end(faces, tiny_ckpt):
    res = membership_attack(tiny_ckpt, data=faces, n_bootstrap=50)
    n = int((faces.split != 0).sum())
    assert res.scores_members.size == res.scores_nonmembers.size == n
    assert 0.0 <= res.metrics["auc"] <= 1.0
    assert res.name == "logit" and res.baseline is None
    assert np.intersect1d(res.index_members, res.index_nonmembers).size == 0
    # the logits are D's: recompute a few directly
    ckpt = load_checkpoint(tiny_ckpt)
    rows = np.flatnonzero(np.isin(faces.index, res.index_members[:3]))
    with torch.no_grad():
        direct = ckpt.discriminator(faces.images(rows)).double().numpy()
    order = np.argsort(res.index_members[:3])
    assert np.allclose(np.sort(direct), np.sort(res.scores_members[:3][order]), atol=1e-5)


def test_checkpoint_without_members_says_how_to_pass_them(faces, no_members_ckpt, tiny_ckpt):
    with pytest.raises(XaiprobeError, match=r"--members FILE\.npy"):
        membership_attack(no_members_ckpt, data=faces, n_bootstrap=0)
    members = load_checkpoint(tiny_ckpt).members
    res = membership_attack(no_members_ckpt, data=faces, members=members, n_bootstrap=0)
    assert res.scores_members.size > 0


def test_overlapping_members_and_nonmembers_are_refused(faces, tiny_ckpt):
    members = load_checkpoint(tiny_ckpt).members
    with pytest.raises(XaiprobeError, match="also members"):
        membership_attack(tiny_ckpt, data=faces, nonmembers=np.r_[members[:2], faces.index[faces.split == 2]])
    mi = MembershipInference(load_checkpoint(tiny_ckpt).discriminator)
    x = faces.images(np.arange(10))
    with pytest.raises(XaiprobeError, match="identical images"):
        mi.attack(x, torch.cat([x[:1], faces.images(np.arange(10, 20))]))


def test_members_not_in_data_are_an_error(tiny_ckpt):
    from xaiprobe.testing.data import tiny_faces

    small = tiny_faces(10)
    with pytest.raises(XaiprobeError, match="none of the"):
        select_samples(small, np.array([500, 501]))
    with pytest.raises(XaiprobeError, match="every image"):
        select_samples(small, small.index)


def test_membership_inference_class_on_images(faces, tiny_ckpt):
    ckpt = load_checkpoint(tiny_ckpt)
    D = ckpt.discriminator.train()
    mi = MembershipInference(D)
    xm, xn = faces.images(np.arange(0, 16)), faces.images(np.arange(40, 56))
    res = mi.attack(xm, xn, n_bootstrap=20, fprs=(0.25,))
    assert res.scores_members.shape == (16,)
    assert D.training  # the model's mode is restored after scoring
    assert mi.model is D and all(p.grad is None for p in D.parameters())  # used as given: not copied
    assert np.allclose(mi.scores(xm), res.scores_members)


def test_calibrated_attack_with_reference(faces, tiny_ckpt, ref_ckpt):
    res = membership_attack(tiny_ckpt, data=faces, reference=ref_ckpt, n_bootstrap=50)
    assert res.name == "calibrated" and res.baseline.name == "logit"
    ref = load_checkpoint(ref_ckpt)
    rows = np.flatnonzero(np.isin(faces.index, res.index_members))
    with torch.no_grad():
        ref_logits = ref.discriminator(faces.images(rows)).double().numpy()
    # calibrated = target - reference on the same images
    idx_sorted = np.sort(res.index_members)
    order = np.argsort(res.index_members)
    calibrated = res.scores_members[order]
    raw = res.baseline.scores_members[order]
    assert np.array_equal(faces.index[rows], idx_sorted)
    assert np.allclose(calibrated, raw - ref_logits, atol=1e-5)
    assert np.array_equal(res.calibration_members, res.baseline.calibration_members)


def test_reference_overlapping_target_members_warns_and_its_members_are_excluded(faces, tiny_ckpt, tmp_path):
    target = load_checkpoint(tiny_ckpt)
    heldout = faces.index[faces.split == 1]
    ref_members = np.r_[target.members[:3], heldout]
    ref_path = save_checkpoint(tmp_path / "ref.pt", arch=target.arch,
                               generator=target.generator.state_dict(),
                               discriminator=target.discriminator.state_dict(), epoch=1,
                               data={"spec": faces.spec, "split": "train"}, members=ref_members)
    with pytest.warns(UserWarning, match="also the target's members"):
        res = membership_attack(tiny_ckpt, data=faces, reference=ref_path, n_bootstrap=0, fprs=(0.5,))
    assert not np.isin(res.index_nonmembers, heldout).any()
    assert np.isin(res.index_nonmembers, faces.index[faces.split == 2]).all()


def test_membership_inference_from_checkpoint_paths_with_reference(faces, tiny_ckpt, ref_ckpt):
    mi = MembershipInference(tiny_ckpt, reference=ref_ckpt, batch_size=7)
    xm, xn = faces.images(np.arange(0, 12)), faces.images(np.arange(40, 52))
    res = mi.attack(xm, xn, n_bootstrap=0, fprs=(0.2,))
    assert res.name == "calibrated" and res.baseline.name == "logit"
    assert np.allclose(res.scores_members, mi.logits(xm) - mi.logits(xm, "reference"))
    with pytest.raises(XaiprobeError, match="reference"):
        MembershipInference(tiny_ckpt).logits(xm, "reference")
    with pytest.raises(XaiprobeError, match="expected a discriminator"):
        MembershipInference(42)

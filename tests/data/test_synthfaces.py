"""SynthFaces: rates, correlations, determinism, counterfactuals, masks, and the pixel-probe gap."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.data import (ATTRIBUTES, CONCEPT_REGIONS, load_dataset, load_synthfaces, render_counterfactual,
                           render_synthfaces)
from xaiprobe.data.synthfaces import REGIONS

N = 2000


@pytest.fixture(scope="module")
def faces():
    pixels, labels, _ = render_synthfaces(N, seed=0, masks=False)
    return pixels, labels


def col(name):
    return ATTRIBUTES.index(name)


def test_shapes_and_types(faces):
    pixels, labels = faces
    assert pixels.shape == (N, 3, 64, 64) and pixels.dtype == np.uint8
    assert labels.shape == (N, 5) and labels.dtype == np.int8
    assert set(np.unique(labels)) <= {0, 1}
    assert pixels[:100].std() > 30  # not blank


@pytest.mark.parametrize("name,rate,tol", [("Smiling", 0.48, 0.04), ("Eyeglasses", 0.065, 0.02),
                                           ("Young", 0.78, 0.035), ("Male", 0.42, 0.04),
                                           ("Blond_Hair", 0.15, 0.03)])
def test_attribute_rates_are_celeba_like(faces, name, rate, tol):
    assert abs(faces[1][:, col(name)].mean() - rate) < tol


def test_correlations_have_celeba_signs(faces):
    lab = faces[1]
    male, blond, young, glasses = (lab[:, col(a)].astype(bool) for a in ("Male", "Blond_Hair", "Young", "Eyeglasses"))
    assert blond[male].mean() < blond[~male].mean() / 3
    assert glasses[~young].mean() > 2 * glasses[young].mean()


def test_deterministic_and_independent_of_batch():
    a, la, ma = render_synthfaces([5, 17, 300], seed=3)
    b, lb, mb = render_synthfaces([300, 17], seed=3, batch_size=1)
    np.testing.assert_array_equal(a[[2, 1]], b)
    np.testing.assert_array_equal(la[[2, 1]], lb)
    for r in REGIONS:
        np.testing.assert_array_equal(ma[r][[2, 1]], mb[r])
    c, _, _ = render_synthfaces([5], seed=4, masks=False)
    assert np.abs(c[0].astype(int) - a[0]).mean() > 5  # another seed is another face


def test_masks_nonempty_and_inside_image():
    pixels, labels, masks = render_synthfaces(200, seed=0)
    assert set(masks) == set(REGIONS)
    for r, m in masks.items():
        assert m.shape == (200, 64, 64) and m.dtype == bool
    for name, region in CONCEPT_REGIONS.items():
        present = labels[:, col(name)] == 1
        assert present.any()
        assert masks[region][present].reshape(present.sum(), -1).sum(1).min() > 10
    area = {r: m.reshape(200, -1).mean(1).mean() for r, m in masks.items()}
    assert area["face"] > area["mouth"] and area["face"] > area["eyes"]
    # the mouth region lies inside (or at the edge of) the face
    inside = (masks["mouth"] & masks["face"]).sum() / masks["mouth"].sum()
    assert inside > 0.8


@pytest.mark.parametrize("attribute", ["Smiling", "Eyeglasses", "Blond_Hair"])
def test_counterfactual_changes_only_the_concept_region(attribute):
    region = CONCEPT_REGIONS[attribute]
    fractions = []
    for index in range(12):
        _, lab, masks = render_synthfaces([index], seed=0)
        value = 1 - lab[0, col(attribute)]
        on = render_counterfactual(index, attribute, value, seed=0)
        off = render_counterfactual(index, attribute, 1 - value, seed=0)
        np.testing.assert_array_equal(off, render_synthfaces([index], seed=0, masks=False)[0])
        changed = (np.abs(on[0].astype(int) - off[0]).max(0) > 8)
        assert changed.sum() > 3
        fractions.append((changed & masks[region][0]).sum() / changed.sum())
    assert np.mean(fractions) > 0.8 and min(fractions) > 0.6


def test_counterfactual_bad_attribute():
    with pytest.raises(XaiprobeError, match="Smiling"):
        render_counterfactual(0, "Bald", 1)
    with pytest.raises(XaiprobeError, match="0 or 1"):
        render_counterfactual(0, "Smiling", 2)


def test_pixels_are_a_poor_linear_feature_for_smiling_and_young(faces):
    """The key property: a linear probe on 8x8 raw pixels is far from separating Smiling/Young."""
    pixels, labels = faces
    n = 1500
    x = (pixels[:n].astype(np.float32) / 127.5 - 1).reshape(n, 3, 8, 8, 8, 8).mean((3, 5)).reshape(n, -1)
    test = np.arange(n) % 4 == 0
    auc = {}
    for name in ("Smiling", "Young", "Blond_Hair"):
        y = labels[:n, col(name)]
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(x[~test], y[~test])
        auc[name] = roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1])
    assert auc["Smiling"] < 0.7, auc
    assert auc["Young"] < 0.85, auc
    assert auc["Blond_Hair"] > 0.9, auc  # the probe itself works: hair colour is a global cue


def test_load_synthfaces_caches_atomically(tmp_path):
    d1 = load_dataset("synthfaces:30:2", cache_dir=tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"
    d2 = load_dataset("synthfaces:30:2", cache_dir=tmp_path)
    np.testing.assert_array_equal(np.asarray(d1.pixels), np.asarray(d2.pixels))
    assert d1.spec == "synthfaces:30:2"
    direct = load_synthfaces(30, 2, cache=False)
    np.testing.assert_array_equal(np.asarray(d1.pixels), direct.pixels)
    np.testing.assert_array_equal(d1.labels, direct.labels)
    assert [len(d1.rows_of(s)) for s in ("train", "val", "test")] == [24, 3, 3]
    m = d1.masks([4, 1])
    ref = render_synthfaces([4, 1], seed=2)[2]
    for r in REGIONS:
        np.testing.assert_array_equal(m[r], ref[r])
    files[0].write_bytes(b"garbage")  # a corrupt cache is re-rendered, not trusted
    d3 = load_dataset("synthfaces:30:2", cache_dir=tmp_path)
    np.testing.assert_array_equal(np.asarray(d3.pixels), direct.pixels)


def test_bad_render_arguments():
    with pytest.raises(XaiprobeError, match="seed"):
        render_synthfaces(3, seed=-1)
    with pytest.raises(XaiprobeError, match="indices"):
        render_synthfaces([-1])

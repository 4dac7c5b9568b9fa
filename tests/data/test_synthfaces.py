"""SynthFaces: rates, correlations, determinism, counterfactuals, masks, and the pixel-probe gap."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.data import (ATTRIBUTES, CONCEPT_REGIONS, DEFAULT_ATTRIBUTES, load_dataset, load_synthfaces,
                           render_counterfactual, render_synthfaces)
from xaiprobe.data.synthfaces import CELEBA_RATES, HAIR_COLORS, REGIONS

N = 4000


@pytest.fixture(scope="module")
def faces():
    pixels, labels, _ = render_synthfaces(N, seed=0, masks=False)
    return pixels, labels


def col(name):
    return ATTRIBUTES.index(name)


def test_shapes_and_types(faces):
    pixels, labels = faces
    assert pixels.shape == (N, 3, 64, 64) and pixels.dtype == np.uint8
    assert labels.shape == (N, len(ATTRIBUTES)) and labels.dtype == np.int8
    assert len(ATTRIBUTES) >= 12 and ATTRIBUTES[:5] == DEFAULT_ATTRIBUTES
    assert set(np.unique(labels)) <= {0, 1}
    assert pixels[:100].std() > 30  # not blank


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_attribute_rates_are_celeba_like(faces, name):
    rate = CELEBA_RATES[name]
    tol = 0.035 if 0.1 < rate < 0.9 else 0.02
    assert abs(faces[1][:, col(name)].mean() - rate) < tol, faces[1][:, col(name)].mean()


def test_correlations_have_celeba_signs(faces):
    lab = faces[1].astype(bool)
    male, blond, young, glasses, gray, lipstick, beard = (
        lab[:, col(a)] for a in ("Male", "Blond_Hair", "Young", "Eyeglasses", "Gray_Hair", "Wearing_Lipstick", "No_Beard"))
    beard = ~beard
    assert blond[male].mean() < blond[~male].mean() / 3
    assert glasses[~young].mean() > 2 * glasses[young].mean()
    assert not beard[~male].any() and 0.3 < beard[male].mean() < 0.5  # beards only on men
    assert lipstick[male].mean() < 0.05 and (~male[lipstick]).mean() > 0.95  # lipstick mostly on women
    assert (~young[gray]).mean() > 0.75 and gray[~young].mean() > 10 * gray[young].mean()  # grey mostly old
    smiling, mouth_open = lab[:, col("Smiling")], lab[:, col("Mouth_Slightly_Open")]
    assert mouth_open[smiling].mean() > 2 * mouth_open[~smiling].mean()


def test_one_hair_colour_at_most(faces):
    colours = faces[1][:, [col(c) for c in HAIR_COLORS]].sum(1)
    assert colours.max() == 1
    assert 0.25 < (colours == 0).mean() < 0.5  # some faces have none of the named colours, as in CelebA


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
    pixels, labels, masks = render_synthfaces(400, seed=0)
    assert set(masks) == set(REGIONS)
    assert {"mouth", "glasses", "hair", "face", "eyes"} <= set(REGIONS)  # the original region names
    for r, m in masks.items():
        assert m.shape == (400, 64, 64) and m.dtype == bool
    assert set(CONCEPT_REGIONS) >= set(ATTRIBUTES) - {"Young", "Male"}
    for name, region in CONCEPT_REGIONS.items():
        on = labels[:, col(name)] == 1 if name != "No_Beard" else labels[:, col(name)] == 0  # the beard is the cue
        assert on.any(), name
        sizes = masks[region][on].reshape(on.sum(), -1).sum(1)
        if region == "hair":  # a hat may hide all but a sliver of short hair
            hatted = labels[on, col("Wearing_Hat")] == 1
            assert sizes[~hatted].min() > 10 and (sizes > 0).mean() > 0.97, name
        else:
            assert sizes.min() > 10, name
    area = {r: m.reshape(400, -1).mean(1).mean() for r, m in masks.items()}
    assert area["face"] > area["mouth"] and area["face"] > area["eyes"]
    # the mouth region lies inside (or at the edge of) the face
    inside = (masks["mouth"] & masks["face"]).sum() / masks["mouth"].sum()
    assert inside > 0.8


@pytest.mark.parametrize("attribute", sorted(CONCEPT_REGIONS))
def test_counterfactual_changes_only_the_concept_region(attribute):
    region = CONCEPT_REGIONS[attribute]
    fractions = []
    _, labels, _ = render_synthfaces(60, seed=0, masks=False)
    # forcing a beard on a woman also makes her a man (a whole-face change): test beards on men
    pool = np.flatnonzero(labels[:, col("Male")] == 1) if attribute == "No_Beard" else np.arange(60)
    for index in pool[:12]:
        _, lab, _ = render_synthfaces([index], seed=0)
        value = 1 - lab[0, col(attribute)]
        # the region in either picture (forcing a fringe or a hat changes where the hair is)
        region_mask = render_synthfaces([index], seed=0, force={attribute: value})[2][region][0] | \
            render_synthfaces([index], seed=0)[2][region][0]
        on = render_counterfactual(index, attribute, value, seed=0)
        off = render_counterfactual(index, attribute, 1 - value, seed=0)
        np.testing.assert_array_equal(off, render_synthfaces([index], seed=0, masks=False)[0])
        changed = (np.abs(on[0].astype(int) - off[0]).max(0) > 8)
        assert changed.sum() > 3, index
        fractions.append((changed & region_mask).sum() / changed.sum())
    # (a beard takes the hair colour: up to half the change of a bearded face's hair colour is the beard)
    assert np.mean(fractions) > 0.8 and min(fractions) > 0.4, fractions


def test_forcing_keeps_dependencies_honest():
    female = int(np.flatnonzero(render_synthfaces(20, masks=False)[1][:, col("Male")] == 0)[0])
    _, lab, _ = render_synthfaces([female], masks=False, force={"No_Beard": 0})
    assert lab[0, col("No_Beard")] == 0 and lab[0, col("Male")] == 1  # a beard makes the face male
    _, lab, _ = render_synthfaces(200, masks=False, force={"Male": 0})
    assert (lab[:, col("No_Beard")] == 1).all()
    for c in HAIR_COLORS:
        _, lab, _ = render_synthfaces(50, masks=False, force={c: 1})
        hair = lab[:, [col(h) for h in HAIR_COLORS]]
        assert (hair[:, HAIR_COLORS.index(c)] == 1).all() and (hair.sum(1) == 1).all()
        _, lab, _ = render_synthfaces(50, masks=False, force={c: 0})
        assert (lab[:, col(c)] == 0).all() and lab[:, [col(h) for h in HAIR_COLORS]].sum(1).max() <= 1
    for a in ATTRIBUTES:  # every attribute can be forced both ways
        for v in (0, 1):
            assert (render_synthfaces(8, masks=False, force={a: v})[1][:, col(a)] == v).all()
    with pytest.raises(XaiprobeError, match="one hair colour"):
        render_synthfaces(2, force={"Blond_Hair": 1, "Black_Hair": 1})
    with pytest.raises(XaiprobeError, match="male faces only"):
        render_synthfaces(2, force={"No_Beard": 0, "Male": 0})


def test_counterfactual_bad_attribute():
    with pytest.raises(XaiprobeError, match="Smiling"):
        render_counterfactual(0, "Attractive", 1)
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
    assert d1.attribute_names == DEFAULT_ATTRIBUTES


def test_corrupt_cache_is_rendered_again_with_a_warning(tmp_path, caplog):
    ref = load_synthfaces(30, 2, cache=False)
    load_dataset("synthfaces:30:2", cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    for junk in (b"garbage", path.read_bytes()[:1000]):  # not a zip; a truncated one
        path.write_bytes(junk)
        caplog.clear()
        with caplog.at_level("WARNING"):
            d = load_dataset("synthfaces:30:2", cache_dir=tmp_path)
        assert any("unreadable" in r.getMessage() for r in caplog.records)
        np.testing.assert_array_equal(np.asarray(d.pixels), ref.pixels)
        assert [p.name for p in tmp_path.iterdir()] == [path.name]  # rewritten, no temporary left
    again = load_dataset("synthfaces:30:2", cache_dir=tmp_path)
    np.testing.assert_array_equal(np.asarray(again.pixels), ref.pixels)


def test_one_cache_serves_every_size(tmp_path, monkeypatch):
    import xaiprobe.data.synthfaces as sf

    rendered = []
    real = sf._render_batch

    def counting(indices, *args, **kwargs):
        rendered.extend(int(i) for i in indices)
        return real(indices, *args, **kwargs)

    monkeypatch.setattr(sf, "_render_batch", counting)
    d80 = load_dataset("synthfaces:80:1", cache_dir=tmp_path)
    assert rendered == list(range(80))
    rendered.clear()
    d50 = load_dataset("synthfaces:50:1", cache_dir=tmp_path)
    assert rendered == []  # sliced from the cached 80
    np.testing.assert_array_equal(np.asarray(d50.pixels), np.asarray(d80.pixels)[:50])
    np.testing.assert_array_equal(d50.labels, d80.labels[:50])
    np.testing.assert_array_equal(d50.split, d80.split[:50])  # face i's split does not depend on N
    d120 = load_dataset("synthfaces:120:1", cache_dir=tmp_path)
    assert rendered == list(range(80, 120))  # only the new faces
    np.testing.assert_array_equal(np.asarray(d120.pixels)[:80], np.asarray(d80.pixels))
    rendered.clear()
    direct = render_synthfaces(np.arange(120), seed=1, masks=False)
    np.testing.assert_array_equal(np.asarray(d120.pixels), direct[0])
    assert len(list(tmp_path.iterdir())) == 1
    load_dataset("synthfaces:100:1", cache_dir=tmp_path)
    assert rendered[-120:] == list(range(120))  # (the direct render above) and nothing for 100


def test_attrs_option_selects_label_columns(tmp_path):
    full = load_dataset("synthfaces:20:attrs=all", cache_dir=tmp_path)
    assert full.attribute_names == ATTRIBUTES and full.labels.shape == (20, len(ATTRIBUTES))
    assert full.spec == "synthfaces:20:attrs=all"
    two = load_dataset("synthfaces:20:0:attrs=Bangs,Male", cache_dir=tmp_path)
    assert two.attribute_names == ["Bangs", "Male"]
    np.testing.assert_array_equal(two.labels, full.labels[:, [col("Bangs"), col("Male")]])
    default = load_dataset("synthfaces:20", cache_dir=tmp_path)
    np.testing.assert_array_equal(default.labels, full.labels[:, :5])
    assert load_synthfaces(20, attrs="all", cache=False).spec == "synthfaces:20:0:attrs=all"
    with pytest.raises(XaiprobeError, match="Bald"):
        load_dataset("synthfaces:20:attrs=Bald", cache_dir=tmp_path)
    with pytest.raises(XaiprobeError, match="option"):
        load_dataset("synthfaces:20:crop=box", cache_dir=tmp_path)


def test_bad_render_arguments():
    with pytest.raises(XaiprobeError, match="seed"):
        render_synthfaces(3, seed=-1)
    with pytest.raises(XaiprobeError, match="indices"):
        render_synthfaces([-1])

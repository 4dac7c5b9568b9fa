"""Edit quality on planted directions; D's concept curves through stand-in decoders."""
import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.editing import (Directions, concept_curves, edit_quality, fit_directions, format_quality_table,
                              path_metrics, plot_concept_curves, plot_entanglement, plot_method_comparison,
                              write_quality)


def test_planted_direction_edits_are_monotonic_and_disentangled(planted_orthogonal, tmp_path):
    G, clf, P = planted_orthogonal
    dirs = fit_directions(G, clf, n=1500, methods="lstsq,conditional", device="cpu")
    region = np.zeros((64, 64), bool)
    region[0, :16] = True  # z lives in the first 16 pixels of channel 0
    q = edit_quality(G, clf, dirs, n=16, region_masks={"Smiling": region}, progress=False)
    assert len(q["rows"]) == 6
    for r in q["rows"]:
        assert r["slope"] > 0.3
        assert r["spearman"] == pytest.approx(1.0)
        assert r["monotonic_frac"] == 1.0
        assert r["leakage"] < 0.2
    for m in ("lstsq", "conditional"):
        E = q["entanglement"][m]
        np.testing.assert_allclose(np.diag(E), 1.0)
        off = np.abs(E - np.diag(np.diag(E)))
        assert (np.abs(np.diag(E))[:, None] > 3 * off).all()
    smiling = next(r for r in q["rows"] if r["attribute"] == "Smiling")
    assert smiling["pixel_change"] > 0 and smiling["outside_change"] == pytest.approx(0.0, abs=1e-7)
    young = next(r for r in q["rows"] if r["attribute"] == "Young")
    assert np.isnan(young["outside_change"])
    files = write_quality(q, tmp_path)
    assert all(f.is_file() for f in files)
    assert "(mean)" in format_quality_table(q)
    fig, ax = plot_entanglement(q["entanglement"]["lstsq"], q["attribute_names"])
    assert ax.get_ylabel() == "edited attribute"
    fig, ax = plot_method_comparison(q, "slope")
    assert len(ax.patches) == 6


def test_random_direction_is_not_a_good_edit(planted_orthogonal):
    G, clf, P = planted_orthogonal
    # a direction orthogonal to every planted one: no slope, no monotonic trend
    q_, _ = np.linalg.qr(np.c_[P.T, np.random.default_rng(3).standard_normal((16, 1))])
    d = torch.as_tensor(np.tile(q_[:, 3], (3, 1)), dtype=torch.float32)
    dirs = Directions({"random": d}, list(clf.attribute_names), 16)
    q = edit_quality(G, clf, dirs, n=16, progress=False)
    assert all(abs(r["slope"]) < 1e-4 for r in q["rows"])


def test_path_metrics_counts_non_monotonic_latents():
    alphas = np.array([-1.0, 0.0, 1.0])
    L = np.zeros((4, 3, 1))
    L[:, :, 0] = [[0, 1, 2], [0, 1, 2], [0, 2, 1], [2, 1, 0]]
    m = path_metrics(alphas, L, 0)
    assert m["monotonic_frac"] == 0.5
    assert m["slope"] == pytest.approx((1 + 1 + 0.5 - 1) / 4)


def test_quality_bad_input(planted_orthogonal):
    G, clf, P = planted_orthogonal
    dirs = Directions({"lstsq": torch.as_tensor(P, dtype=torch.float32)}, ["A", "B", "C"], 16)
    with pytest.raises(XaiprobeError, match="the classifier has no A, B, C"):
        edit_quality(G, clf, dirs, progress=False)
    dirs.attribute_names = list(clf.attribute_names)
    with pytest.raises(XaiprobeError, match="two different values"):
        edit_quality(G, clf, dirs, alphas=[1.0], progress=False)


def _fit_decoders(D, directory):
    """Real ConceptDecoders (probes) on D's conv2/conv3 for 40 tiny faces, saved to ``directory``."""
    from xaiprobe.activations.hooks import run_with_cache
    from xaiprobe.probes.decoders import ConceptDecoder, decoder_filename
    from xaiprobe.testing.data import tiny_faces

    faces = tiny_faces(40)
    _, cache = run_with_cache(D.eval(), faces.images(), ["conv2", "conv3"], pooling="mean")
    for layer, X in cache.items():
        dec = ConceptDecoder(hidden=8, max_epochs=3, random_state=0).fit(
            X.numpy(), faces.labels, concept_names=faces.attribute_names)
        dec.save(directory / decoder_filename(layer), layer=layer, pooling="mean")
    return faces.attribute_names


def test_concept_curves_through_decoders(tiny_artifacts, tmp_path):
    from xaiprobe.cli.main import main
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.probes import load_decoders
    from xaiprobe.report import Section

    ck = load_checkpoint(tiny_artifacts.checkpoint)
    names = _fit_decoders(ck.discriminator, tmp_path / "dec")
    dirs = Directions({"lstsq": torch.eye(5, 8)}, names, 8)
    cc = concept_curves(ck.discriminator, load_decoders(tmp_path / "dec"), ck.generator, dirs,
                        attributes=["Young"], alphas=[-2, 0, 2], n=4)
    curve = cc["curves"]["Young"]["conv3"]["Young"]
    assert curve.shape == (3,) and ((curve >= 0) & (curve <= 1)).all()
    fig, ax = plot_concept_curves(cc, "Young")
    assert len(ax.lines) == 2
    with pytest.raises(XaiprobeError, match="xaiprobe decode"):
        concept_curves(ck.discriminator, {}, ck.generator, dirs)
    rc = main(["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(tiny_artifacts.directions),
               "--attributes", "Young", "--alphas=-2:2:3", "--n", "2", "--decoders", str(tmp_path / "dec"),
               "--out", str(tmp_path / "e")])
    assert rc == 0
    sec = Section.load(tmp_path / "e" / "editing")
    assert 0 <= sec.numbers["concepts/Young/conv3/start"] <= 1 and 0 <= sec.numbers["concepts/Young/conv3/end"] <= 1
    assert (tmp_path / "e" / "editing" / "concept_Young.png").is_file()


def test_spearman_matches_scipy():
    from scipy.stats import spearmanr

    from xaiprobe._utils.numeric import spearman

    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.integers(0, 4, 9).astype(float), rng.standard_normal(9)
        assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert spearman([1, 2, 3], [5, 5, 5]) == 0.0

"""Latent directions: planted directions are recovered; SeFa/GANSpace/conditional are what they claim."""
import logging

import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.editing import (Directions, assign_components, conditional_directions, fit_directions,
                                         ganspace_components, lstsq_directions, parse_methods, sefa_components,
                                         svm_directions)
from xaiprobe.testing.models import tiny_dcgan


def _cos(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_lstsq_recovers_planted_direction(planted_random):
    G, clf, P = planted_random
    dirs = fit_directions(G, clf, n=2000, methods="lstsq,svm,conditional,sefa", seed=0, device="cpu")
    D = dirs.directions["lstsq"].numpy()
    assert D.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0, atol=1e-5)
    for a in range(3):
        assert _cos(D[a], P[a]) > 0.95
        assert _cos(dirs.directions["svm"][a], P[a]) > 0.9
    assert all(r > 0.5 for r in dirs.info["lstsq_r2"].values())


def test_direction_signs_point_to_higher_scores():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((500, 6))
    scores = np.stack([-2 * z[:, 1], z[:, 4] + 0.1 * rng.standard_normal(500)], 1)
    D = lstsq_directions(z, scores)
    assert D[0, 1] < -0.99 and D[1, 4] > 0.99
    S = svm_directions(z, scores)
    assert S[0, 1] < -0.9 and S[1, 4] > 0.9


def test_conditional_directions_are_orthogonal_to_the_others():
    D = np.random.default_rng(0).standard_normal((4, 10))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    C = conditional_directions(D)
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, atol=1e-10)
    for a in range(4):
        for b in range(4):
            if a != b:
                assert abs(C[a] @ D[b]) < 1e-10
        assert C[a] @ D[a] > 0  # still points the same way


def test_conditional_rejects_dependent_directions():
    D = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0]])
    with pytest.raises(XaiprobeError, match="span of the others"):
        conditional_directions(D)


def test_sefa_returns_unit_eigenvectors_of_wtw():
    G, _ = tiny_dcgan(0)
    comps, vals = sefa_components(G)
    W = G.main[0].weight.detach().double().numpy()
    A = W.reshape(W.shape[0], -1)  # (nz, C*4*4): z -> A^T z
    M = A @ A.T  # = W^T W of the map
    ev, evec = np.linalg.eig(M)
    order = np.argsort(ev.real)[::-1]
    np.testing.assert_allclose(vals, ev.real[order], rtol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(comps, axis=1), 1.0, atol=1e-10)
    for i in range(3):  # distinct eigenvalues: same vectors up to sign
        assert abs(abs(comps[i] @ evec[:, order[i]].real) - 1) < 1e-6
    np.testing.assert_allclose(comps @ M, vals[:, None] * comps, atol=1e-8)


def test_ganspace_components_are_unit_and_ordered():
    G, _ = tiny_dcgan(0)
    comps, ratio = ganspace_components(G.eval(), n=300, k=5, seed=0)
    assert comps.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(comps, axis=1), 1.0, atol=1e-8)
    assert np.all(np.diff(ratio) <= 1e-12) and ratio.sum() <= 1 + 1e-9


def test_assign_components_picks_the_correlated_one_with_sign():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 5))
    scores = np.stack([-2 * z[:, 3], z[:, 0] + z[:, 1] * 0.2], 1)
    D, info = assign_components(np.eye(5), z, scores)
    assert info[0]["component"] == 3 and info[0]["correlation"] < -0.99
    assert info[1]["component"] == 0
    assert D[0, 3] == -1 and D[1, 0] == 1


def test_directions_file_roundtrip_and_generator_checks(tmp_path, caplog):
    d = Directions({"lstsq": torch.eye(2, 8)}, ["Smiling", "Young"], 8, "ab" * 32, {"n": 10})
    path = d.save(tmp_path / "d.pt")
    e = Directions.load(path)
    assert e.attribute_names == ["Smiling", "Young"] and e.nz == 8 and e.info["n"] == 10
    torch.testing.assert_close(e.get("lstsq", "Young"), torch.eye(2, 8)[1])
    with pytest.raises(XaiprobeError, match="latent size 8.*nz=16"):
        e.check_generator(16)
    with caplog.at_level(logging.WARNING):
        e.check_generator(8, "cd" * 32)
    assert "fitted on generator" in caplog.text
    with pytest.raises(XaiprobeError, match="Smiling, Young"):
        e.get("lstsq", "Bald")
    with pytest.raises(XaiprobeError, match="it has lstsq"):
        e.get("sefa", "Young")


def test_bad_directions_input(tmp_path):
    with pytest.raises(XaiprobeError, match="unknown"):
        parse_methods("lstsq,pca")
    with pytest.raises(XaiprobeError, match="no such file"):
        Directions.load(tmp_path / "missing.pt")
    torch.save({"x": 1}, tmp_path / "other.pt")
    with pytest.raises(XaiprobeError, match="not an xaiprobe directions file"):
        Directions.load(tmp_path / "other.pt")
    G, _ = tiny_dcgan(0)
    with pytest.raises(XaiprobeError, match="too few"):
        fit_directions(G, torch.nn.Linear(1, 1), n=3)


def test_tiny_dcgan_all_methods(tiny_artifacts):
    d = Directions.load(tiny_artifacts.directions)
    assert d.methods == ["lstsq", "svm", "conditional", "sefa", "ganspace"]
    for m in d.methods:
        assert d.directions[m].shape == (5, 8)
        np.testing.assert_allclose(d.directions[m].norm(dim=1).numpy(), 1.0, atol=1e-5)
    assert set(d.info["sefa"]["assignments"]) == set(d.attribute_names)
    assert len(d.generator_sha256) == 64

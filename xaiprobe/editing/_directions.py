"""Latent directions, one per attribute, by five methods.

Supervised (need the attribute classifier's scores of G(z)):

- ``lstsq`` — the seed's method: regress each classifier logit on z (with intercept),
  d = w / ||w||.
- ``svm`` — InterFaceGAN: a linear SVM separating the top from the bottom scored latents;
  d is the unit normal of the boundary, pointing towards high scores.
- ``conditional`` — InterFaceGAN's conditional manipulation: each lstsq direction with the
  span of the other attributes' directions projected out (then renormalized).

Unsupervised (need only G; each attribute is then assigned the component whose projection
z·c correlates most with its classifier score, with the sign of that correlation):

- ``sefa`` — closed-form factorization (Shen & Zhou 2021): top eigenvectors of WᵀW, W the
  first ConvTranspose2d layer's weight viewed as the linear map z -> (C·4·4).
- ``ganspace`` — Härkönen et al. 2020: PCA of the first generator block's output over many
  z, transferred to z space by least squares (z ≈ U x, x the PCA coordinates).

Only the top ``n_components`` (20) unsupervised components are candidates, so the comparison
asks "did the unsupervised method find this attribute among its leading directions?".
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._utils.coerce import evaluating, module_device, resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, safe_torch_load
from ..activations.hooks import run_with_cache
from ..gan.sampling import latent_size, sample_latents

log = logging.getLogger(__name__)

FORMAT = "xaiprobe.directions"
VERSION = 1
METHODS = ("lstsq", "svm", "conditional", "sefa", "ganspace")


def _unit(v: np.ndarray, axis=-1) -> np.ndarray:
    n = np.linalg.norm(v, axis=axis, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """G(z) (n, 3, 64, 64) on CPU, batch by batch, with G on its own device."""
    dev = module_device(G)
    out = [G(z[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(z), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def score_latents(G: nn.Module, classifier: nn.Module, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Classifier logits (n, A) of the generated images G(z)."""
    dev = module_device(classifier)
    out = []
    for i in range(0, len(z), batch_size):
        x = generate(G, z[i:i + batch_size], batch_size)
        out.append(classifier(x.to(dev)).float().cpu())
    return torch.cat(out)


def lstsq_directions(z, scores) -> np.ndarray:
    """Unit directions (A, nz): least-squares fit score_a ≈ z·w_a + b_a, d_a = w_a / ||w_a||.

    Parameters
    ----------
    z : array (n, nz)
    scores : array (n, A)
    """
    z, s = np.asarray(z, np.float64), np.asarray(scores, np.float64)
    X = np.hstack([z, np.ones((len(z), 1))])
    w, *_ = np.linalg.lstsq(X, s, rcond=None)
    return _unit(w[:-1].T)


def svm_directions(z, scores, fraction: float = 0.2, C: float = 0.01, seed: int = 0) -> np.ndarray:
    """Unit normals (A, nz) of linear SVM boundaries (InterFaceGAN).

    For each attribute the ``fraction`` highest scored latents are positives, the
    ``fraction`` lowest negatives; the normal of ``LinearSVC`` on them points to the positives.
    """
    from sklearn.svm import LinearSVC

    z, s = np.asarray(z, np.float64), np.asarray(scores, np.float64)
    k = max(int(round(len(z) * fraction)), 2)
    if 2 * k > len(z):
        raise XaiprobeError(f"svm directions: {len(z)} latents are too few for fraction {fraction}; sample more (--n)")
    out = []
    for a in range(s.shape[1]):
        order = np.argsort(s[:, a], kind="stable")
        X = np.vstack([z[order[-k:]], z[order[:k]]])
        y = np.r_[np.ones(k), np.zeros(k)]
        svc = LinearSVC(C=C, max_iter=20000, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            svc.fit(X, y)
        out.append(svc.coef_[0])
    return _unit(np.stack(out))


def conditional_directions(directions) -> np.ndarray:
    """Each direction with the span of the others projected out, renormalized (A, nz).

    The result is orthogonal to every *other* input direction (Gram-Schmidt against them,
    done as a least-squares projection so near-parallel inputs stay stable).
    """
    D = np.asarray(directions, np.float64)
    out = []
    for a in range(len(D)):
        others = np.delete(D, a, axis=0)
        v = D[a].copy()
        if len(others):
            q, _ = np.linalg.qr(others.T)  # orthonormal basis of the others' span (nz, A-1)
            v = v - q @ (q.T @ v)
            if np.linalg.norm(v) < 1e-8:
                raise XaiprobeError("conditional directions: one direction lies in the span of the others; "
                                    "use fewer attributes or the plain lstsq directions")
        out.append(v)
    return _unit(np.stack(out))


def first_latent_layer(G: nn.Module) -> nn.Module:
    """The generator's first ConvTranspose2d or Linear layer (the one that reads z)."""
    for m in G.modules():
        if isinstance(m, (nn.ConvTranspose2d, nn.Linear)):
            return m
    raise XaiprobeError(f"generator {type(G).__name__}: has no ConvTranspose2d/Linear layer reading z; SeFa needs one")


def sefa_components(G: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """SeFa: eigenvectors of WᵀW for the first layer (nz -> C·k·k) map, largest eigenvalue first.

    Returns
    -------
    components : ndarray (nz, nz), unit rows
    eigenvalues : ndarray (nz,), descending
    """
    layer = first_latent_layer(G)
    W = layer.weight.detach().double().cpu()
    # ConvTranspose2d weight is (in=nz, out, kh, kw): z -> out[c,i,j] = sum_k z_k W[k,c,i,j]
    A = W.reshape(W.shape[0], -1).T if isinstance(layer, nn.ConvTranspose2d) else W  # (C·k·k, nz)
    vals, vecs = np.linalg.eigh((A.T @ A).numpy())
    order = np.argsort(vals)[::-1]
    return _unit(vecs[:, order].T), vals[order]


@torch.no_grad()
def ganspace_components(G: nn.Module, n: int = 5000, k: int | None = None, layer: str = "block1",
                        seed: int = 1, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """GANSpace: PCA of generator features at ``layer`` for ``n`` random z, mapped to z space.

    The principal coordinates x (n, k) of the features are regressed back onto z by least
    squares (z ≈ x U), and the rows of U, normalized, are the latent directions.

    Returns
    -------
    components : ndarray (k, nz), unit rows, by explained variance
    explained_variance_ratio : ndarray (k,)
    """
    from sklearn.decomposition import PCA

    nz = latent_size(G)
    k = min(int(k or nz), nz, int(n))
    z = sample_latents(n, nz, seed)
    dev = module_device(G)
    feats = []
    for i in range(0, n, batch_size):
        _, cache = run_with_cache(G, z[i:i + batch_size].to(dev), [layer])
        feats.append(next(iter(cache.values())).flatten(1).float().cpu().numpy())
    F = np.concatenate(feats)
    pca = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit(F)
    x = pca.transform(F)
    U, *_ = np.linalg.lstsq(np.hstack([x, np.ones((n, 1))]), z.double().numpy(), rcond=None)
    return _unit(U[:-1]), pca.explained_variance_ratio_


def assign_components(components, z, scores) -> tuple[np.ndarray, list[dict]]:
    """For each attribute, the component whose projection correlates most with its score.

    Returns
    -------
    directions : ndarray (A, nz), signed so that +d raises the score
    assignments : list of {"component": int, "correlation": float} per attribute
    """
    C, z, s = np.asarray(components, np.float64), np.asarray(z, np.float64), np.asarray(scores, np.float64)
    P = z @ C.T  # (n, K)
    Pc, Sc = P - P.mean(0), s - s.mean(0)
    corr = (Sc.T @ Pc) / (np.linalg.norm(Sc, axis=0)[:, None] * np.linalg.norm(Pc, axis=0)[None, :] + 1e-12)  # (A, K)
    best = np.abs(corr).argmax(1)
    signs = np.sign(corr[np.arange(len(best)), best])
    signs[signs == 0] = 1
    out = C[best] * signs[:, None]
    return out, [{"component": int(b), "correlation": float(corr[a, b])} for a, b in enumerate(best)]


@dataclass
class Directions:
    """Latent directions per method: ``directions[method]`` is a float tensor (A, nz).

    ``info`` holds how they were fitted (n, seed, unsupervised component assignments, the
    fit R² of lstsq ...). ``generator_sha256`` identifies the checkpoint they belong to.
    """

    directions: dict
    attribute_names: list
    nz: int
    generator_sha256: str = ""
    info: dict = field(default_factory=dict)

    @property
    def methods(self) -> list:
        return list(self.directions)

    def get(self, method: str, attribute: str) -> torch.Tensor:
        """The unit direction (nz,) of ``attribute`` by ``method``; bad names list the valid ones."""
        if method not in self.directions:
            raise XaiprobeError(f"direction method {method!r}: not in this directions file; it has {', '.join(self.directions)}")
        if attribute not in self.attribute_names:
            raise XaiprobeError(f"attribute {attribute!r}: the classifier does not have it; "
                                f"it has {', '.join(self.attribute_names)}")
        return self.directions[method][self.attribute_names.index(attribute)]

    def check_generator(self, nz: int, sha256: str = "", what: str = "checkpoint") -> None:
        """Error when the latent size differs, warning when the checkpoint hash differs."""
        if int(nz) != int(self.nz):
            raise XaiprobeError(f"directions: fitted for latent size {self.nz} but the {what} has nz={nz}; "
                                "fit directions for this generator with `xaiprobe directions --checkpoint ...`")
        if sha256 and self.generator_sha256 and sha256 != self.generator_sha256:
            msg = (f"directions were fitted on generator {self.generator_sha256[:12]} but the {what} is "
                   f"{sha256[:12]}; edits may not mean what they say")
            log.warning(msg)

    def save(self, path) -> Path:
        obj = {"format": FORMAT, "version": VERSION,
               "directions": {m: torch.as_tensor(np.asarray(d), dtype=torch.float32) for m, d in self.directions.items()},
               "attribute_names": list(self.attribute_names), "nz": int(self.nz),
               "generator_sha256": self.generator_sha256, "info": self.info}
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
        return path

    @classmethod
    def load(cls, path) -> "Directions":
        path = Path(path)
        obj = safe_torch_load(path, "directions",
                              "fit them with `xaiprobe directions --checkpoint C --classifier F --out FILE`", "refit them")
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise XaiprobeError(f"directions {path}: not an xaiprobe directions file; fit them with `xaiprobe directions`")
        return cls({m: d.float() for m, d in obj["directions"].items()}, list(obj["attribute_names"]),
                   int(obj["nz"]), obj.get("generator_sha256", ""), obj.get("info", {}))


def parse_methods(methods) -> list[str]:
    """``"lstsq,svm"`` / list / None (all) -> validated list of method names."""
    if methods is None or methods == "all":
        return list(METHODS)
    names = [m.strip() for m in (methods.split(",") if isinstance(methods, str) else methods) if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if bad or not names:
        raise XaiprobeError(f"direction method {', '.join(bad) or '(none)'}: unknown; use any of {', '.join(METHODS)}")
    return names


def fit_directions(G: nn.Module, classifier, n: int = 5000, methods=None, seed: int = 0, batch_size: int = 256,
                   generator_sha256: str = "", ganspace_layer: str = "block1", n_components: int = 20,
                   device=None) -> Directions:
    """Sample ``n`` latents, score G(z) with ``classifier`` and fit directions by ``methods``.

    Parameters
    ----------
    G : nn.Module
        Generator z (n, nz) -> images (n, 3, 64, 64).
    classifier : AttributeClassifier or nn.Module with ``attribute_names``
        images -> logits (n, A).
    methods : str or list of str, optional
        Any of lstsq, svm, conditional, sefa, ganspace (default all).
    n_components : int
        SeFa / GANSpace: each attribute is assigned one of the top ``n_components`` components
        (the unsupervised methods' "interpretable" head, not the whole basis).

    Returns
    -------
    Directions
    """
    methods = parse_methods(methods)
    if int(n) < 10:
        raise XaiprobeError(f"directions: n={n} latents is too few to fit a direction; use --n 1000 or more")
    dev = resolve_device(device)
    with evaluating(G, dev), evaluating(classifier, dev):  # eval mode on dev for the fit, restored after
        names = list(getattr(classifier, "attribute_names", []))
        nz = latent_size(G)
        z = sample_latents(n, nz, seed)
        scores = score_latents(G, classifier, z, batch_size).numpy()
        if not names:
            names = [f"attr{i}" for i in range(scores.shape[1])]
        zn = z.double().numpy()
        out, info = {}, {"n": int(n), "seed": int(seed), "methods": methods, "n_components": int(n_components)}
        base = lstsq_directions(zn, scores)
        # how linear each logit is in z: R² of the least-squares fit on 20% held-out latents
        X = np.hstack([zn, np.ones((len(zn), 1))])
        cut = int(len(zn) * 0.8)
        pred = X[cut:] @ np.linalg.lstsq(X[:cut], scores[:cut], rcond=None)[0]
        held = scores[cut:]
        info["lstsq_r2"] = {nm: float(1 - ((held[:, a] - pred[:, a]) ** 2).sum() / max(((held[:, a] - held[:, a].mean()) ** 2).sum(), 1e-12))
                            for a, nm in enumerate(names)}
        info["score_std"] = {nm: float(scores[:, a].std()) for a, nm in enumerate(names)}
        for m in methods:
            if m == "lstsq":
                out[m] = base
            elif m == "svm":
                out[m] = svm_directions(zn, scores, seed=seed)
            elif m == "conditional":
                out[m] = conditional_directions(base)
            elif m in ("sefa", "ganspace"):
                comps, stat = sefa_components(G) if m == "sefa" else ganspace_components(
                    G, n=min(int(n), 5000), k=n_components, layer=ganspace_layer, seed=seed + 1, batch_size=batch_size)
                out[m], assign = assign_components(comps[:int(n_components)], zn, scores)
                info[m] = {"assignments": dict(zip(names, assign)),
                           ("eigenvalues" if m == "sefa" else "explained_variance_ratio"): [float(v) for v in stat[:10]]}
    cos = {m: {nm: float(np.dot(out[m][a], base[a])) for a, nm in enumerate(names)} for m in out}
    info["cosine_to_lstsq"] = cos
    return Directions({m: torch.as_tensor(d, dtype=torch.float32) for m, d in out.items()}, names, nz, generator_sha256, info)

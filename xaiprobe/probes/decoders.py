"""Concept decoders: a small MLP per layer mapping activations to concepts.

Multi-label attributes use sigmoid outputs and binary cross-entropy; single-label concepts
(digit classes) use a softmax and cross-entropy. Decoders are saved with their layer, concept
names and pooling, so :func:`decode_images` can hook the discriminator and apply them to any
images.

Decoders dir layout: ``DIR/decoder_<layer>.pt`` plus ``DIR/decoders.json`` (an index).
"""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path
from .features import ChunkedFeatures, auto_threads, feature_stats, limit_threads
from .linear import _load_dict

log = logging.getLogger(__name__)

FORMAT = "xaiprobe.concept_decoder"
CONCEPT_TYPES = ("multilabel", "single")


def _mlp(d: int, hidden: int, k: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, k))


class ConceptDecoder(ClassifierMixin, BaseEstimator):
    """One-hidden-layer MLP from (standardized) layer activations to concepts.

    Parameters
    ----------
    hidden : int
        Width of the hidden layer.
    dropout : float
        Dropout after the hidden layer.
    concept_type : {"multilabel", "single"}
        Sigmoid + BCE per concept, or softmax + cross-entropy over classes.
    lr, weight_decay : float
        AdamW settings.
    batch_size : int
    max_epochs : int
    patience : int
        Early stopping: epochs without a better validation loss before stopping (the best
        epoch's weights are kept).
    val_fraction : float
        Share of the training rows held out for early stopping when no validation data is passed.
    random_state : int
        Seed of the initialization, the shuffling and the internal split.
    n_threads : int or None
        torch intra-op threads during ``fit`` (restored afterwards); None: one thread for
        small problems (see :class:`~xaiprobe.probes.linear.LinearProbe`), else unchanged.
    device : str or None

    Attributes
    ----------
    model_ : nn.Sequential
        The MLP on standardized features (logits out).
    mean_, scale_ : ndarray (D,)
    n_features_in_ : int
    n_outputs_ : int
        Number of concepts K.
    classes_ : ndarray (K,)
    history_ : list of dict
        ``{"epoch", "train_loss", "val_loss"}`` per epoch.
    best_epoch_ : int
    """

    def __init__(self, hidden: int = 256, dropout: float = 0.2, concept_type: str = "multilabel",
                 lr: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 128, max_epochs: int = 200,
                 patience: int = 15, val_fraction: float = 0.2, random_state: int = 0,
                 n_threads: int | None = None, device=None):
        self.hidden = hidden
        self.dropout = dropout
        self.concept_type = concept_type
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.n_threads = n_threads
        self.device = device

    # ------------------------------------------------------------------ fitting
    def _targets(self, Y, n: int, k: int | None, what: str) -> np.ndarray:
        Y = np.asarray(Y)
        if Y.shape[0] != n:
            raise XaiprobeError(f"ConceptDecoder: {what} has {Y.shape[0]} rows but X has {n}")
        if self.concept_type == "single":
            if Y.ndim == 2:
                bad = (Y.sum(axis=1) != 1) | ~np.isin(Y, (0, 1)).all(axis=1)
                if bad.any():
                    raise XaiprobeError(f"ConceptDecoder: {what} has {int(bad.sum())} rows that are not one-hot; "
                                        "single-label concepts need exactly one class per row")
                return Y.argmax(axis=1).astype(np.int64)
            Y = Y.astype(np.int64).reshape(-1)
            if (Y < 0).any() or (k is not None and (Y >= k).any()):
                raise XaiprobeError(f"ConceptDecoder: {what} holds class indices outside 0..{(k or Y.max() + 1) - 1}")
            return Y
        if Y.ndim == 1:
            Y = Y[:, None]
        if not np.isin(np.unique(Y), (-1, 0, 1)).all():
            raise XaiprobeError(f"ConceptDecoder: {what} must hold 0/1 labels (-1 = missing) for multilabel concepts")
        return Y.astype(np.int8)

    def fit(self, X, Y, X_val=None, Y_val=None, concept_names=None) -> "ConceptDecoder":
        """Train with AdamW and early stopping on the validation loss.

        Parameters
        ----------
        X : array-like (n, D) or ChunkedFeatures
            Raw features (loaded into memory).
        Y : array (n, K) of 0/1 (-1 = missing) for multilabel; one-hot (n, K) or class
            indices (n,) for single-label.
        X_val, Y_val : optional
            Validation data for early stopping; else ``val_fraction`` of the rows is held out.
        concept_names : list of str, optional

        Returns
        -------
        self
        """
        n_values = len(X) * (int(np.prod(X.shape[1:])) if len(X.shape) > 1 else 1)
        with limit_threads(auto_threads(self.n_threads, max(n_values, len(X) * self.hidden), self.device)):
            return self._fit(X, Y, X_val, Y_val, concept_names)

    def _fit(self, X, Y, X_val, Y_val, concept_names) -> "ConceptDecoder":
        if self.concept_type not in CONCEPT_TYPES:
            raise XaiprobeError(f"ConceptDecoder concept_type {self.concept_type!r}: use multilabel or single")
        X = self._dense(X)
        n = len(X)
        if n < 2:
            raise XaiprobeError("ConceptDecoder: need at least 2 training rows")
        Yraw = np.asarray(Y)
        k = Yraw.shape[1] if Yraw.ndim == 2 else (len(concept_names) if concept_names is not None else int(Yraw.max()) + 1)
        T = self._targets(Y, n, k, "Y")
        if X_val is None:
            perm = np.random.default_rng(self.random_state).permutation(n)
            m = max(1, int(round(n * self.val_fraction)))
            va, tr = perm[:m], perm[m:]
            X, Xv, T, Tv = X[tr], X[va], T[tr], T[va]
        else:
            Xv = self._dense(X_val)
            Tv = self._targets(Y_val, len(Xv), k, "Y_val")
        mean, std, bad = feature_stats(X)
        if bad or not np.isfinite(Xv).all():
            bad = bad + int((~np.isfinite(Xv)).sum())
            raise XaiprobeError(f"features: {bad} NaN/infinite values; re-extract the activations or drop that layer")
        self.mean_, self.scale_ = mean, np.where(std > 0, std, 1.0)
        self.n_features_in_, self.n_outputs_ = X.shape[1], int(k)
        self.classes_ = np.arange(k)
        self.concept_names_ = [str(c) for c in concept_names] if concept_names is not None else [str(i) for i in range(k)]
        if len(self.concept_names_) != k:
            raise XaiprobeError(f"ConceptDecoder: {len(self.concept_names_)} concept names for {k} outputs")

        dev = resolve_device(self.device)
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(self.random_state)
            model = _mlp(X.shape[1], self.hidden, k, self.dropout).to(dev)
        xt = self._std(X, dev)
        xv = self._std(Xv, dev)
        yt, yv = torch.as_tensor(T, device=dev), torch.as_tensor(Tv, device=dev)
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch.Generator().manual_seed(self.random_state)
        best, best_state, best_epoch, history, wait = np.inf, None, 0, [], 0
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(self.random_state + 1)  # dropout masks
            for epoch in range(1, self.max_epochs + 1):
                model.train()
                order = torch.randperm(len(xt), generator=gen).to(dev)
                tot = 0.0
                for s in range(0, len(xt), self.batch_size):
                    idx = order[s:s + self.batch_size]
                    loss = self._loss(model(xt[idx]), yt[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    tot += float(loss.detach()) * len(idx)
                model.eval()
                with torch.no_grad():
                    vl = float(self._loss(model(xv), yv)) if len(xv) else tot / len(xt)
                history.append({"epoch": epoch, "train_loss": tot / len(xt), "val_loss": vl})
                if vl < best - 1e-6:
                    best, best_state, best_epoch, wait = vl, copy.deepcopy(model.state_dict()), epoch, 0
                else:
                    wait += 1
                    if wait >= self.patience:
                        break
        model.load_state_dict(best_state)
        self.model_ = model.eval()
        self.history_, self.best_epoch_ = history, best_epoch
        return self

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.concept_type == "single":
            return nn.functional.cross_entropy(logits, y)
        m = (y >= 0).to(logits.dtype)
        bce = nn.functional.binary_cross_entropy_with_logits(logits, y.clamp(min=0).to(logits.dtype), reduction="none")
        return (bce * m).sum() / m.sum().clamp(min=1)

    @staticmethod
    def _dense(X) -> np.ndarray:
        if isinstance(X, ChunkedFeatures):
            return X.to_numpy()
        X = np.asarray(X, dtype=np.float32)
        return X.reshape(len(X), -1)

    def _std(self, X: np.ndarray, dev) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(X, dtype=np.float32), device=dev)
        mean = torch.as_tensor(self.mean_, dtype=torch.float32, device=dev)
        scale = torch.as_tensor(self.scale_, dtype=torch.float32, device=dev)
        return (x - mean) / scale

    # --------------------------------------------------------------- prediction
    def decision_function(self, X, batch_size: int = 4096) -> np.ndarray:
        """Logits, ndarray (n, K)."""
        check_is_fitted(self, "model_")
        X = self._dense(X)
        if X.shape[1] != self.n_features_in_:
            raise XaiprobeError(f"ConceptDecoder: X has {X.shape[1]} features but the decoder was fitted on "
                                f"{self.n_features_in_}; use features of the same layer and pooling")
        dev = next(self.model_.parameters()).device
        outs = []
        with torch.no_grad():
            for s in range(0, len(X), batch_size):
                outs.append(self.model_(self._std(X[s:s + batch_size], dev)).cpu())
        return torch.cat(outs).numpy() if outs else np.empty((0, self.n_outputs_), np.float32)

    def predict_proba(self, X) -> np.ndarray:
        """Concept probabilities (n, K): sigmoids (multilabel) or a softmax (single-label)."""
        z = torch.as_tensor(self.decision_function(X))
        return (torch.softmax(z, dim=1) if self.concept_type == "single" else torch.sigmoid(z)).numpy()

    def predict(self, X) -> np.ndarray:
        """Multilabel: int8 (n, K) thresholded at 0.5. Single-label: class indices (n,)."""
        z = self.decision_function(X)
        return z.argmax(axis=1) if self.concept_type == "single" else (z >= 0).astype(np.int8)

    def score(self, X, Y, sample_weight=None) -> float:
        """Top-1 accuracy (single-label) or mean per-concept accuracy over labeled entries."""
        T = self._targets(Y, len(X), self.n_outputs_, "Y")
        pred = self.predict(X)
        if self.concept_type == "single":
            return float((pred == T).mean())
        keep = T >= 0
        return float((pred == T)[keep].mean())

    def to_module(self) -> nn.Module:
        """An nn.Sequential mapping raw flattened features (n, D) to logits (n, K), with the
        standardization folded into the first linear layer (eval mode, float32, CPU)."""
        check_is_fitted(self, "model_")
        first, last = self.model_[0], self.model_[3]
        w = first.weight.detach().cpu().double() / torch.as_tensor(self.scale_)[None, :]
        b = first.bias.detach().cpu().double() - w @ torch.as_tensor(self.mean_)
        lin = nn.Linear(self.n_features_in_, self.hidden)
        out = nn.Linear(self.hidden, self.n_outputs_)
        with torch.no_grad():
            lin.weight.copy_(w.float())
            lin.bias.copy_(b.float())
            out.load_state_dict({k: v.detach().cpu() for k, v in last.state_dict().items()})
        return nn.Sequential(lin, nn.ReLU(), out).eval()

    # ------------------------------------------------------------------ files
    def save(self, path, layer: str = "", concept_names=None, pooling: str = "", module_path: str = "",
             extra: dict | None = None) -> Path:
        """Write the decoder (plain tensors + metadata; loadable with ``weights_only=True``)."""
        check_is_fitted(self, "model_")
        params = self.get_params()
        params["device"] = None if self.device is None else str(self.device)
        obj = {
            "format": FORMAT, "version": 1, "params": params,
            "state_dict": {k: v.detach().cpu() for k, v in self.model_.state_dict().items()},
            "mean": torch.as_tensor(self.mean_), "scale": torch.as_tensor(self.scale_),
            "n_features": int(self.n_features_in_), "n_outputs": int(self.n_outputs_),
            "concept_names": list(concept_names if concept_names is not None else self.concept_names_),
            "layer": str(layer), "pooling": str(pooling or "none"), "module_path": str(module_path or ""),
            "best_epoch": int(self.best_epoch_), "extra": dict(extra or {}),
        }
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
        return path

    @classmethod
    def load(cls, path, device=None) -> "ConceptDecoder":
        """Read a decoder written by :meth:`save` (sets ``layer_``, ``concept_names_``,
        ``pooling_``, ``module_path_``, ``extra_``)."""
        obj = _load_dict(path, FORMAT, "concept decoder")
        known = cls._get_param_names()
        params = {k: v for k, v in obj["params"].items() if k in known}
        if device is not None:
            params["device"] = device
        dec = cls(**params)
        model = _mlp(obj["n_features"], dec.hidden, obj["n_outputs"], dec.dropout)
        model.load_state_dict(obj["state_dict"])
        dec.model_ = model.to(resolve_device(dec.device)).eval()
        dec.mean_, dec.scale_ = obj["mean"].numpy(), obj["scale"].numpy()
        dec.n_features_in_, dec.n_outputs_ = obj["n_features"], obj["n_outputs"]
        dec.classes_ = np.arange(dec.n_outputs_)
        dec.concept_names_ = list(obj["concept_names"])
        dec.layer_, dec.pooling_, dec.module_path_ = obj["layer"], obj["pooling"], obj["module_path"]
        dec.best_epoch_, dec.history_, dec.extra_ = obj.get("best_epoch", 0), [], dict(obj.get("extra", {}))
        return dec


def decoder_filename(layer: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(layer))
    return f"decoder_{safe}.pt"


def load_decoders(directory, device=None) -> dict[str, ConceptDecoder]:
    """Every decoder in DIR (in ``decoders.json`` order when present), keyed by layer."""
    d = Path(directory)
    if not d.is_dir():
        raise XaiprobeError(f"decoders {d}: no such directory; train decoders with `xaiprobe decode --activations FILE --out DIR`")
    index = d / "decoders.json"
    if index.is_file():
        with open(index) as f:
            files = [d / e["file"] for e in json.load(f).get("decoders", [])]
    else:
        files = sorted(d.glob("decoder_*.pt"))
    if not files:
        raise XaiprobeError(f"decoders {d}: no decoder_<layer>.pt files; train decoders with `xaiprobe decode --activations FILE --out DIR`")
    out = {}
    for p in files:
        dec = ConceptDecoder.load(p, device=device)
        out[dec.layer_ or p.stem[len("decoder_"):]] = dec
    return out


def decode_images(decoders: dict, discriminator: nn.Module, images, batch_size: int = 256, device=None,
                  progress: bool = False) -> dict[str, np.ndarray]:
    """Apply decoders to images through the discriminator's activations.

    Parameters
    ----------
    decoders : dict layer -> ConceptDecoder
        Fitted (or loaded) decoders; each layer is hooked with the decoder's ``pooling_``.
    discriminator : nn.Module
    images : ImageSet, float tensor (n, 3, H, W) in [-1, 1], or uint8 array (n, 3, H, W)
    batch_size : int

    Returns
    -------
    dict layer -> ndarray (n, K)
        Concept probabilities per image.
    """
    from ..activations.hooks import resolve_layer, run_with_cache
    from ..data.base import ImageSet, to_float_images

    if not decoders:
        raise XaiprobeError("decode: no decoders given; load them with load_decoders(DIR)")
    dev = resolve_device(device)
    D = discriminator.to(dev).eval()
    groups: dict[str, list] = {}
    for layer, dec in decoders.items():
        name = getattr(dec, "layer_", None) or layer
        try:
            resolve_layer(D, name)
        except XaiprobeError:
            mp = getattr(dec, "module_path_", "")
            if not mp:
                raise
            name = resolve_layer(D, mp)[0]
        groups.setdefault(getattr(dec, "pooling_", "none") or "none", []).append((layer, name, dec))
    if isinstance(images, ImageSet):
        n = len(images)
        get = lambda s, e: images.images(np.arange(s, e))  # noqa: E731
    else:
        arr = images
        n = len(arr)
        get = (lambda s, e: to_float_images(arr[s:e])) if (isinstance(arr, np.ndarray) and arr.dtype == np.uint8) \
            else (lambda s, e: torch.as_tensor(arr[s:e]).float())  # noqa: E731
    outs: dict[str, list] = {layer: [] for layer in decoders}
    from tqdm.auto import tqdm
    for s in tqdm(range(0, n, batch_size), desc="decode", disable=not progress or None, leave=False):
        x = get(s, min(n, s + batch_size)).to(dev)
        for pooling, items in groups.items():
            _, cache = run_with_cache(D, x, [name for _, name, _ in items], pooling=pooling)
            for layer, name, dec in items:
                feats = cache[name].reshape(len(x), -1).float().cpu().numpy()
                outs[layer].append(dec.predict_proba(feats))
    return {layer: (np.concatenate(v) if v else np.empty((0, decoders[layer].n_outputs_), np.float32))
            for layer, v in outs.items()}

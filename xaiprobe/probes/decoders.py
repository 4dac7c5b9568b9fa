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
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch import nn
from tqdm.auto import tqdm

from .._utils.coerce import evaluating
from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path
from ..activations import resolve_layer, run_with_cache
from ..data.base import ImageSet, to_float_images
from ._features import (ChunkedFeatures, NonFiniteFeatures, auto_threads, check_features, check_finite_array,
                        feature_stats, limit_threads)
from ._io import load_estimator_dict, pack_array, unpack_array

log = logging.getLogger(__name__)

FORMAT = "xaiprobe.concept_decoder"
CONCEPT_TYPES = ("multilabel", "single")
#: fitted attributes written by :meth:`ConceptDecoder.save` (with ``model_`` and ``history_``)
FITTED = ("mean_", "scale_", "n_features_in_", "n_outputs_", "classes_", "multilabel_", "concept_names_",
          "best_epoch_", "layer_", "pooling_", "module_path_")


def _mlp(d: int, hidden: int, k: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, k))


class ConceptDecoder(ClassifierMixin, BaseEstimator):
    """One-hidden-layer MLP from (standardized) layer activations to concepts.

    Targets follow scikit-learn: a 1-D ``y`` of any labels is one class per row (softmax over
    ``classes_``); a 2-D ``Y`` (n, K) is one column per concept: 0/1 indicator columns
    (-1 = missing) for ``concept_type="multilabel"`` (sigmoid + BCE per concept, ``classes_`` =
    [0, 1]), one-hot rows for ``concept_type="single"`` (softmax, ``classes_`` = 0..K-1).

    Parameters
    ----------
    hidden : int
        Width of the hidden layer.
    dropout : float
        Dropout after the hidden layer.
    concept_type : {"multilabel", "single"}
        How 2-D targets are read (see above).
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
        Number of outputs K (concepts, or classes).
    classes_ : ndarray
    multilabel_ : bool
        Sigmoid outputs, one per concept (else a softmax over the classes).
    concept_names_ : list of str
    history_ : list of dict
        ``{"epoch", "train_loss", "val_loss"}`` per epoch.
    best_epoch_ : int
    layer_, pooling_, module_path_ : str
        Where the features come from (given to ``fit``; "" when not).
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # ------------------------------------------------------------------ fitting
    def _encode(self, y, n: int, classes=None, multilabel=None, what: str = "y"):
        """``(targets, classes_, multilabel)``: class indices (n,) for one class per row, or an
        int8 indicator matrix (n, K) (-1 = missing) for multilabel concepts."""
        if y is None:
            raise XaiprobeError(f"ConceptDecoder: {what} is None; this estimator requires y to be passed, but the "
                                "target y is None")
        y = np.asarray(y)
        if y.shape[0] != n:
            raise XaiprobeError(f"ConceptDecoder: {what} has {y.shape[0]} rows but X has {n}")
        if y.ndim == 1:
            if multilabel:
                raise XaiprobeError(f"ConceptDecoder: {what} is 1-D but the decoder was fitted on concept columns")
            check_classification_targets(y)
            classes = np.unique(y) if classes is None else classes
            idx = np.searchsorted(classes, y)
            idx = np.clip(idx, 0, len(classes) - 1)
            if not np.array_equal(classes[idx], y):
                raise XaiprobeError(f"ConceptDecoder: {what} holds labels the training labels do not "
                                    f"({', '.join(map(str, classes))})")
            return idx.astype(np.int64), classes, False
        if y.ndim != 2:
            raise XaiprobeError(f"ConceptDecoder: {what} has shape {y.shape}; pass labels (n,) or concept columns (n, K)")
        if self.concept_type == "single":
            bad = (y.sum(axis=1) != 1) | ~np.isin(y, (0, 1)).all(axis=1)
            if bad.any():
                raise XaiprobeError(f"ConceptDecoder: {what} has {int(bad.sum())} rows that are not one-hot; "
                                    "single-label concepts need exactly one class per row")
            return y.argmax(axis=1).astype(np.int64), np.arange(y.shape[1]), False
        if y.dtype.kind not in "biuf" or not np.isin(np.unique(y), (-1, 0, 1)).all():
            raise XaiprobeError(f"ConceptDecoder: {what} must hold 0/1 labels (-1 = missing) for multilabel concepts")
        return y.astype(np.int8), np.array([0, 1]), True

    def fit(self, X, y, X_val=None, y_val=None, concept_names=None, layer: str = "", pooling: str = "",
            module_path: str = "") -> "ConceptDecoder":
        """Train with AdamW and early stopping on the validation loss.

        Parameters
        ----------
        X : array-like (n, D) or ChunkedFeatures
            Raw features (loaded into memory).
        y : array (n,) of labels, or (n, K): 0/1 columns (-1 = missing) for multilabel concepts,
            one-hot rows for single-label ones.
        X_val, y_val : optional
            Validation data for early stopping; else ``val_fraction`` of the rows is held out.
        concept_names : list of str, optional
        layer, pooling, module_path : str
            Where the features come from (kept as ``layer_``, ``pooling_``, ``module_path_``).

        Returns
        -------
        self
        """
        if self.concept_type not in CONCEPT_TYPES:
            raise XaiprobeError(f"ConceptDecoder concept_type {self.concept_type!r}: use multilabel or single")
        X = self._dense(check_features(self, X, reset=True))
        n = len(X)
        if n < 2:
            raise XaiprobeError(f"ConceptDecoder: {n} training row (n_samples={n}); need at least 2")
        T, classes, multilabel = self._encode(y, n)
        k = T.shape[1] if multilabel else len(classes)
        if X_val is not None:
            X_val = self._dense(check_features(self, X_val, reset=False))
            Tv, _, _ = self._encode(y_val, len(X_val), classes if not multilabel else None, multilabel, "y_val")
            if multilabel and Tv.shape[1] != k:
                raise XaiprobeError(f"ConceptDecoder: y_val has {Tv.shape[1]} columns, y has {k}")
        else:
            Tv = None
        names = ([str(c) for c in concept_names] if concept_names is not None
                 else [str(c) for c in (range(k) if multilabel else classes)])
        if len(names) != k:
            raise XaiprobeError(f"ConceptDecoder: {len(names)} concept names for {k} outputs")
        n_values = n * X.shape[1]
        with limit_threads(auto_threads(self.n_threads, max(n_values, n * self.hidden), self.device)):
            fitted = self._fit(X, T, X_val, Tv, k, multilabel)
        fitted.update(classes_=classes, multilabel_=multilabel, concept_names_=names, n_outputs_=int(k),
                      layer_=str(layer or ""), pooling_=str(pooling or ""), module_path_=str(module_path or ""))
        for key, v in fitted.items():
            setattr(self, key, v)
        return self

    def _fit(self, X, T, Xv, Tv, k: int, multilabel: bool) -> dict:
        """The fitted attributes (a dict): standardization, the MLP at its best epoch, history."""
        n = len(X)
        if Xv is None:
            perm = np.random.default_rng(self.random_state).permutation(n)
            m = max(1, int(round(n * self.val_fraction)))
            va, tr = perm[:m], perm[m:]
            X, Xv, T, Tv = X[tr], X[va], T[tr], T[va]
        mean, std, bad = feature_stats(X)
        bad += int((~np.isfinite(Xv)).sum())
        if bad:
            raise NonFiniteFeatures(f"features: {bad} NaN/infinite values; re-extract the activations or drop that "
                                    "layer", bad)
        scale = np.where(std > 0, std, 1.0)
        dev = resolve_device(self.device)
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(self.random_state)
            model = _mlp(X.shape[1], self.hidden, k, self.dropout).to(dev)
        xt, xv = _standardize(X, mean, scale, dev), _standardize(Xv, mean, scale, dev)
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
                    loss = _loss(model(xt[idx]), yt[idx], multilabel)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    tot += float(loss.detach()) * len(idx)
                model.eval()
                with torch.no_grad():
                    vl = float(_loss(model(xv), yv, multilabel)) if len(xv) else tot / len(xt)
                history.append({"epoch": epoch, "train_loss": tot / len(xt), "val_loss": vl})
                if vl < best - 1e-6 or best_state is None:
                    best, best_state, best_epoch, wait = vl, copy.deepcopy(model.state_dict()), epoch, 0
                else:
                    wait += 1
                    if wait >= self.patience:
                        break
        model.load_state_dict(best_state)
        return {"model_": model.eval(), "mean_": mean, "scale_": scale, "history_": history,
                "best_epoch_": best_epoch}

    @staticmethod
    def _dense(X) -> np.ndarray:
        if isinstance(X, ChunkedFeatures):
            return X.to_numpy()
        X = np.asarray(X, dtype=np.float32)
        return X.reshape(len(X), -1)

    # --------------------------------------------------------------- prediction
    def _logits(self, X, batch_size: int = 4096) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = self._dense(check_features(self, X, reset=False))
        check_finite_array(X, "X")
        dev = next(self.model_.parameters()).device
        outs = []
        with torch.no_grad():
            for s in range(0, len(X), batch_size):
                outs.append(self.model_(_standardize(X[s:s + batch_size], self.mean_, self.scale_, dev)).cpu())
        return torch.cat(outs).numpy() if outs else np.empty((0, self.n_outputs_), np.float32)

    def decision_function(self, X) -> np.ndarray:
        """Logits (n, K); for two classes of a 1-D y, the logit difference (n,)."""
        z = self._logits(X)
        if not self.multilabel_ and self.n_outputs_ == 2:
            return z[:, 1] - z[:, 0]
        return z

    def predict_proba(self, X) -> np.ndarray:
        """Concept probabilities (n, K): sigmoids (multilabel) or a softmax over the classes."""
        z = torch.as_tensor(self._logits(X))
        return (torch.sigmoid(z) if self.multilabel_ else torch.softmax(z, dim=1)).numpy()

    def predict(self, X) -> np.ndarray:
        """Multilabel: int8 (n, K) (logit > 0). One class per row: the labels (n,)."""
        z = self._logits(X)
        return (z > 0).astype(np.int8) if self.multilabel_ else self.classes_[z.argmax(axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of the labels (one class per row), or mean per-concept accuracy over labeled
        entries (multilabel)."""
        if not self.multilabel_:
            T, _, _ = self._encode(y, len(X), self.classes_, False)
            return float((self.predict(X) == self.classes_[T]).mean())
        T, _, _ = self._encode(y, len(X), None, True)
        keep = T >= 0
        return float((self.predict(X) == T)[keep].mean())

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
    def save(self, path, layer: str | None = None, concept_names=None, pooling: str | None = None,
             module_path: str | None = None) -> Path:
        """Write the decoder (plain tensors and metadata; loadable with ``weights_only=True``).

        ``layer``, ``concept_names``, ``pooling`` and ``module_path``, when given, say where the
        features come from and are recorded on the decoder too, so :meth:`load` gives back a
        decoder equal to this one, attribute for attribute.
        """
        check_is_fitted(self, "model_")
        for name, value in (("layer_", layer), ("pooling_", pooling), ("module_path_", module_path)):
            if value is not None:
                setattr(self, name, str(value))
        if concept_names is not None:
            if len(concept_names) != self.n_outputs_:
                raise XaiprobeError(f"ConceptDecoder.save: {len(concept_names)} concept names for {self.n_outputs_} "
                                    "outputs")
            self.concept_names_ = [str(c) for c in concept_names]
        params = self.get_params()
        params["device"] = None if self.device is None else str(self.device)
        state = {k: (pack_array(getattr(self, k)) if isinstance(getattr(self, k), np.ndarray) else getattr(self, k))
                 for k in FITTED}
        state["model_"] = {k: v.detach().cpu() for k, v in self.model_.state_dict().items()}
        state["history_"] = [{k: float(v) for k, v in h.items()} for h in self.history_]
        if hasattr(self, "feature_names_in_"):
            state["feature_names_in_"] = pack_array(self.feature_names_in_)
        obj = {"format": FORMAT, "version": 2, "params": params, "state": state}
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
        return path

    @classmethod
    def load(cls, path, device=None) -> "ConceptDecoder":
        """Read a decoder written by :meth:`save`: equal to the saved one, attribute for attribute
        (``device`` moves its MLP and becomes its ``device`` parameter)."""
        obj = load_estimator_dict(path, FORMAT, "concept decoder")
        if "state" not in obj:
            raise XaiprobeError(f"concept decoder {path}: written by an older xaiprobe (format version "
                                f"{obj.get('version')}); train the decoders again")
        known = cls._get_param_names()
        params = {k: v for k, v in obj["params"].items() if k in known}
        if device is not None:
            params["device"] = device
        dec = cls(**params)
        state = dict(obj["state"])
        weights = state.pop("model_")
        for k, v in state.items():
            setattr(dec, k, unpack_array(v) if isinstance(v, dict) and "dtype" in v else v)
        history = [{"epoch": int(h["epoch"]), "train_loss": h["train_loss"], "val_loss": h["val_loss"]}
                   for h in dec.history_]
        dec.history_ = history
        model = _mlp(dec.n_features_in_, dec.hidden, dec.n_outputs_, dec.dropout)
        model.load_state_dict(weights)
        dec.model_ = model.to(resolve_device(dec.device)).eval()
        return dec


def _standardize(X: np.ndarray, mean, scale, dev) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(X, dtype=np.float32), device=dev)
    return (x - torch.as_tensor(mean, dtype=torch.float32, device=dev)) / \
        torch.as_tensor(scale, dtype=torch.float32, device=dev)


def _loss(logits: torch.Tensor, y: torch.Tensor, multilabel: bool) -> torch.Tensor:
    if not multilabel:
        return nn.functional.cross_entropy(logits, y)
    m = (y >= 0).to(logits.dtype)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, y.clamp(min=0).to(logits.dtype), reduction="none")
    return (bce * m).sum() / m.sum().clamp(min=1)


def decoder_filename(layer: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(layer))
    return f"decoder_{safe}.pt"


def decoder_index(directory) -> dict:
    """The ``decoders.json`` of a decoders directory (``{}`` when it has none): the data and
    architecture they were trained on and, per decoder, its file and test metrics."""
    index = Path(directory) / "decoders.json"
    if not index.is_file():
        return {}
    try:
        with open(index) as f:
            out = json.load(f)
    except (OSError, ValueError) as exc:
        raise XaiprobeError(f"decoders {index}: unreadable ({exc}); train the decoders again") from None
    return out if isinstance(out, dict) else {}


def load_decoders(directory, device=None) -> dict[str, ConceptDecoder]:
    """Every decoder in DIR (in ``decoders.json`` order when present), keyed by layer."""
    d = Path(directory)
    how = "train decoders with `xaiprobe decode --activations FILE --out RUN` and pass RUN/decoders"
    if not d.is_dir():
        raise XaiprobeError(f"decoders {d}: no such directory; {how}")
    entries = decoder_index(d).get("decoders")
    files = [d / e["file"] for e in entries] if entries else sorted(d.glob("decoder_*.pt"))
    if not files:
        raise XaiprobeError(f"decoders {d}: no decoder_<layer>.pt files; {how}")
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
    if not decoders:
        raise XaiprobeError("decode: no decoders given; load them with load_decoders(DIR)")
    dev = resolve_device(device)
    with evaluating(discriminator, dev) as D:  # the caller's module, mode and device restored after
        return _decode(decoders, D, images, batch_size, dev, progress)


def _decode(decoders, D, images, batch_size, dev, progress) -> dict:
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
    for s in tqdm(range(0, n, batch_size), desc="decode", disable=not progress or None, leave=False):
        x = get(s, min(n, s + batch_size)).to(dev)
        for pooling, items in groups.items():
            _, cache = run_with_cache(D, x, [name for _, name, _ in items], pooling=pooling)
            for layer, name, dec in items:
                feats = cache[name].reshape(len(x), -1).float().cpu().numpy()
                outs[layer].append(dec.predict_proba(feats))
    return {layer: (np.concatenate(v) if v else np.empty((0, decoders[layer].n_outputs_), np.float32))
            for layer, v in outs.items()}

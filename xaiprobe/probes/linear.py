"""Linear probes: L2-regularized logistic regression for all attributes of a layer at once.

The objective per attribute ``a`` is scikit-learn's ``LogisticRegression(C)`` one, written as a
mean::

    mean_i BCE(x_i · w_a + b_a, y_ia) + ||w_a||² / (2 C n_a)

on standardized features (the intercept is not penalized). All attributes share the feature
matrix, so the weights are one (D, A) matrix and every loss/gradient evaluation is one matmul;
the sum over attributes is separable, so full-batch L-BFGS on the sum reaches each attribute's
own optimum. The strength is chosen per attribute on a validation split from a grid ``Cs``;
every (C, attribute) pair is one column of a single batched L-BFGS problem, so each pass over
the features serves the whole grid. When the features exceed
``max_memory_mb`` they are streamed in row chunks (from HDF5 through :class:`ChunkedFeatures`):
the standardization statistics and every loss/gradient are accumulated chunk by chunk.

Targets follow scikit-learn: a 1-D ``y`` of any labels is one classification problem
(``classes_`` its labels; more than two classes are fitted one-vs-rest), a 2-D ``Y`` (n, A) of
0/1 indicator columns (-1 = missing) is A binary attributes at once (``classes_`` = [0, 1];
``predict_proba`` (n, A) gives each attribute's probability).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path
from ._features import (ChunkedFeatures, Feed, NonFiniteFeatures, auto_threads, check_features, check_finite_array,
                        feature_stats, limit_threads, n_features)
from ._io import load_estimator_dict, pack_array, unpack_array
from ._lbfgs import batched_lbfgs

log = logging.getLogger(__name__)

__all__ = ["LinearProbe", "ChunkedFeatures", "DEFAULT_CS", "encode_targets"]

DEFAULT_CS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
FORMAT = "xaiprobe.linear_probe"
#: fitted attributes written by :meth:`LinearProbe.save` (every one a fitted probe has)
FITTED = ("coef_", "intercept_", "mean_", "scale_", "C_", "val_scores_", "active_", "n_iter_", "n_features_in_",
          "n_outputs_", "classes_", "multilabel_", "attribute_names_", "streaming_", "layer_", "pooling_",
          "module_path_")


def encode_targets(y, n: int, classes=None, what: str = "y"):
    """``(Y (n, A) int8 in {-1, 0, 1}, classes_, multilabel)`` of targets ``y``.

    A 1-D ``y`` (any labels) is one problem: binary -> one column (the second class is 1), more
    classes -> one column per class (one-vs-rest), one class -> one constant column. A 2-D ``y``
    is A indicator columns (0/1, -1 = missing). ``classes`` (a fitted ``classes_``) encodes
    validation targets the same way.
    """
    if y is None:
        raise XaiprobeError(f"{what}: None; this estimator requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.shape[0] != n:
        raise XaiprobeError(f"{what} has {y.shape[0]} rows but X has {n}; pass one label row per feature row")
    if y.ndim == 2:
        if y.dtype.kind not in "biuf" or not np.isin(np.unique(y), (-1, 0, 1)).all():
            vals = np.unique(y)[:6].tolist()
            raise XaiprobeError(f"{what} holds values {vals}; 2-D targets are 0/1 indicator columns (-1 = missing); "
                                "pass a 1-D y for classes")
        return y.astype(np.int8), np.array([0, 1]), True
    if y.ndim != 1:
        raise XaiprobeError(f"{what} has shape {y.shape}; pass labels (n,) or indicator columns (n, A)")
    check_classification_targets(y)
    if classes is None:
        classes = np.unique(y)
    if len(classes) <= 2:
        Y = (y == classes[-1]).astype(np.int8)[:, None] if len(classes) == 2 else np.zeros((n, 1), np.int8)
    else:
        Y = (y[:, None] == classes[None, :]).astype(np.int8)
    return Y, classes, False


def _torch_setup(dtype: str, device):
    """(torch device, torch dtype) of the optimization."""
    dev = resolve_device(device)
    tdt = torch.float64 if dtype == "float64" else torch.float32
    if dev.type == "mps" and tdt == torch.float64:
        tdt = torch.float32
    return dev, tdt


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Multi-output L2 logistic regression on standardized features, fitted in torch.

    Parameters
    ----------
    C : float, array of float (A,) or None
        Inverse regularization strength (scikit-learn's ``C``). ``None`` chooses it per
        attribute from ``Cs`` on the validation data.
    Cs : sequence of float
        Grid searched when ``C`` is None, solved in increasing order with warm starts.
    max_iter : int
        L-BFGS iterations per grid value and attribute.
    tol : float
        Stop when the largest absolute gradient entry of the mean objective is below this.
    selection : {"auc", "loss"}
        Validation criterion for choosing C (an attribute with one class in the validation
        rows falls back to the log-loss, with a warning).
    val_fraction : float
        Share of the training rows held out to choose C when no validation data is passed; the
        probe is then refitted on every training row with the chosen C.
    dtype : {"float32", "float64"}
        Precision of the optimization. float32 (the precision activations are stored in) is
        about twice as fast and stops at a relative loss decrease of 1e-9, its precision
        floor; float64 runs to scikit-learn's own stopping rule.
    max_memory_mb : float
        Features larger than this are streamed in chunks instead of held on the device.
    chunk_size : int
        Rows per chunk when streaming.
    random_state : int
        Seed of the internal validation split.
    n_threads : int or None
        torch intra-op threads during ``fit`` (restored afterwards). None: one thread when
        the training matrix has fewer than 2**24 values (threads only add waiting there),
        else unchanged.
    device : str or None
        None/"auto" picks CUDA when present.

    Attributes
    ----------
    coef_ : ndarray (A, D)
        Weights on the standardized features.
    intercept_ : ndarray (A,)
    mean_, scale_ : ndarray (D,)
        Standardization (``scale_`` is 1 for constant features).
    C_ : ndarray (A,)
        Strength used per attribute.
    val_scores_ : ndarray (len(Cs), A) or None
        Validation criterion per grid value (AUC, or minus the log-loss).
    active_ : ndarray of bool (A,)
        False for attributes with one class in the training rows (they predict their rate).
    n_iter_ : ndarray of int (1, A)
        L-BFGS iterations of the final fit per attribute.
    classes_ : ndarray
        The labels of a 1-D ``y``; ``[0, 1]`` for indicator columns.
    multilabel_ : bool
        True when fitted on indicator columns (n, A).
    attribute_names_ : list of str
    n_features_in_ : int
    n_outputs_ : int
        Columns A of ``coef_``.
    streaming_ : bool
        The training features were streamed in chunks.
    layer_, pooling_, module_path_ : str
        Where the features come from (given to ``fit``; "" when not).
    """

    def __init__(self, C=None, Cs=DEFAULT_CS, max_iter: int = 1000, tol: float = 1e-5,
                 selection: str = "auc", val_fraction: float = 0.2, dtype: str = "float32",
                 max_memory_mb: float = 1024.0, chunk_size: int = 4096, random_state: int = 0,
                 n_threads: int | None = None, device=None):
        self.C = C
        self.Cs = Cs
        self.max_iter = max_iter
        self.tol = tol
        self.selection = selection
        self.val_fraction = val_fraction
        self.dtype = dtype
        self.max_memory_mb = max_memory_mb
        self.chunk_size = chunk_size
        self.random_state = random_state
        self.n_threads = n_threads
        self.device = device

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, X_val=None, y_val=None, attribute_names=None, layer: str = "", pooling: str = "",
            module_path: str = "") -> "LinearProbe":
        """Fit all attributes at once.

        Parameters
        ----------
        X : array-like (n, D) or ChunkedFeatures
            Raw (unstandardized) training features.
        y : array (n,) of labels, or array of int (n, A) of 0/1 indicator columns
            -1 marks a missing label in indicator columns (ignored).
        X_val, y_val : optional
            Validation data for choosing C (when ``C`` is None); without them ``val_fraction``
            of the training rows is held out, C chosen there, and the probe refitted on all rows.
        attribute_names : list of str, optional
            Names used in warnings and saved files.
        layer, pooling, module_path : str
            Where the features come from (kept as ``layer_``, ``pooling_``, ``module_path_``).

        Returns
        -------
        self
        """
        if self.dtype not in ("float32", "float64"):
            raise XaiprobeError(f"LinearProbe dtype {self.dtype!r}: use float32 or float64")
        if self.selection not in ("auc", "loss"):
            raise XaiprobeError(f"LinearProbe selection {self.selection!r}: use auc or loss")
        X = check_features(self, X, reset=True)
        n = len(X)
        Y, classes, multilabel = encode_targets(y, n)
        A = Y.shape[1]
        if attribute_names is not None:
            names = [str(a) for a in attribute_names]
        elif multilabel or len(classes) > 2:
            names = [str(c) for c in classes] if not multilabel else [f"y{a}" for a in range(A)]
        else:
            names = [str(classes[-1])]
        if len(names) != A:
            raise XaiprobeError(f"LinearProbe: {len(names)} attribute names for {A} label columns")
        Yv = None
        if X_val is not None:
            X_val = check_features(self, X_val, reset=False)
            Yv, _, mv = encode_targets(y_val, len(X_val), None if multilabel else classes, "y_val")
            if mv != multilabel or Yv.shape[1] != A:
                raise XaiprobeError(f"LinearProbe: y_val has {Yv.shape[1]} columns, y has {A}; pass validation "
                                    "labels like the training ones")
        with limit_threads(auto_threads(self.n_threads, n * n_features(X), self.device)):
            fitted = self._fit(X, Y, X_val, Yv, names)
        fitted.update(classes_=classes, multilabel_=multilabel, attribute_names_=names, n_outputs_=A,
                      layer_=str(layer or ""), pooling_=str(pooling or ""), module_path_=str(module_path or ""))
        for k, v in fitted.items():
            setattr(self, k, v)
        return self

    def _fit(self, X, Y, X_val, Y_val, names) -> dict:
        """The fitted attributes (a dict) of the probe on (X, Y), choosing C when it is None."""
        device, dtype = _torch_setup(self.dtype, self.device)
        A = Y.shape[1]
        if self.C is not None:
            C = np.broadcast_to(np.asarray(self.C, dtype=np.float64), (A,)).copy()
            if (C <= 0).any():
                raise XaiprobeError(f"LinearProbe C={self.C}: must be positive")
            return self._fit_fixed(X, Y, C, names, device, dtype, val_scores=None)
        Cs = np.sort(np.asarray(self.Cs, dtype=np.float64).reshape(-1))
        if Cs.size == 0 or (Cs <= 0).any():
            raise XaiprobeError(f"LinearProbe Cs={self.Cs}: pass positive values")
        if X_val is not None:
            return self._fit_grid(X, Y, X_val, Y_val, Cs, names, device, dtype)
        # no validation rows: choose C on a held-out share, then refit on every training row
        Xtr, Ytr, Xh, Yh = self._holdout(X, Y)
        grid = self._fit_grid(Xtr, Ytr, Xh, Yh, Cs, names, device, dtype, warn=False)
        return self._fit_fixed(X, Y, grid["C_"], names, device, dtype, val_scores=grid["val_scores_"])

    def _prepare(self, X, Y, names, device, dtype, warn: bool = True):
        """Standardization, the feed, and the starting point (W, b) of a fit."""
        mean, std, bad = feature_stats(X, self.chunk_size)
        if bad:
            raise NonFiniteFeatures(f"features: {bad} NaN/infinite values in the training rows; "
                                    "re-extract the activations (float32) or drop that layer", bad)
        scale = np.where(std > 0, std, 1.0)
        feed = Feed(X, Y, mean, scale, device, dtype, self.max_memory_mb * 2 ** 20, self.chunk_size)
        pos = ((Y == 1).sum(0)).astype(np.float64)
        cnt = (Y >= 0).sum(0).astype(np.float64)
        active = (pos > 0) & (pos < cnt)
        if warn:
            for a in np.flatnonzero(~active):
                warnings.warn(f"attribute {names[a]}: only one class in the {int(cnt[a])} training rows; "
                              "its probe predicts a constant", stacklevel=4)
        rate = np.clip(pos / np.maximum(cnt, 1), 1e-6, 1 - 1e-6)
        W = torch.zeros(len(mean), Y.shape[1], dtype=dtype, device=device)
        b = torch.as_tensor(np.log(rate / (1 - rate)), dtype=dtype, device=device).clone()
        n_a = torch.as_tensor(np.maximum(cnt, 1), dtype=dtype, device=device)
        return mean, scale, feed, active, W, b, n_a

    @staticmethod
    def _state(mean, scale, W, b, C, active, n_iter, val_scores, streaming) -> dict:
        return {"mean_": mean, "scale_": scale, "coef_": W.detach().T.cpu().numpy().astype(np.float64),
                "intercept_": b.detach().cpu().numpy().astype(np.float64), "C_": np.asarray(C, dtype=np.float64),
                "active_": active, "n_iter_": n_iter, "val_scores_": val_scores, "streaming_": bool(streaming)}

    def _fit_fixed(self, X, Y, C, names, device, dtype, val_scores) -> dict:
        """Fit with strength ``C`` (A,) per attribute."""
        mean, scale, feed, active, W, b, n_a = self._prepare(X, Y, names, device, dtype)
        iters = self._solve(feed, W, b, C, n_a, torch.as_tensor(active, device=device))
        return self._state(mean, scale, W, b, C, active, iters[None, :], val_scores, feed.streaming)

    def _fit_grid(self, X, Y, X_val, Y_val, Cs, names, device, dtype, warn: bool = True) -> dict:
        """Fit every C of the grid, keep per attribute the one best on (X_val, Y_val)."""
        mean, scale, feed, active, W, b, n_a = self._prepare(X, Y, names, device, dtype, warn)
        A = Y.shape[1]
        # every (C, attribute) pair is one column of a single batched problem: one pass over
        # the features per L-BFGS evaluation serves the whole grid (column k*A + a is Cs[k], a)
        nC = len(Cs)
        Wall, ball = W.detach().repeat(1, nC), b.detach().repeat(nC)
        act = torch.as_tensor(active, device=device)
        iters = self._solve(feed, Wall, ball, np.repeat(Cs, A), n_a, act.repeat(nC),
                            attribute_of=np.tile(np.arange(A), nC)).reshape(nC, A)
        Z = self._decision(X_val, feed.mean, feed.scale, Wall, ball).reshape(len(X_val), nC, A)
        scores = self._val_scores(Z, Y_val, names, warn)
        best = np.array([self._pick(scores[:, a]) for a in range(A)])
        Wsel = torch.stack([Wall[:, k * A + a] for a, k in enumerate(best)], dim=1)
        bsel = torch.stack([ball[k * A + a] for a, k in enumerate(best)])
        n_iter = iters[best, np.arange(A)][None, :]
        return self._state(mean, scale, Wsel, bsel, Cs[best], active, n_iter, scores, feed.streaming)

    def _holdout(self, X, Y):
        if isinstance(X, ChunkedFeatures):
            X = X.to_numpy()
        n = len(X)
        rng = np.random.default_rng(self.random_state)
        perm = rng.permutation(n)
        k = max(1, int(round(n * self.val_fraction)))
        if n - k < 2:
            raise XaiprobeError(f"LinearProbe: {n} training rows (n_samples={n}) are too few to hold out validation "
                                "rows; pass C or X_val")
        va, tr = np.sort(perm[:k]), np.sort(perm[k:])
        Xa = np.asarray(X)
        return Xa[tr], Y[tr], Xa[va], Y[va]

    @staticmethod
    def _pick(col: np.ndarray) -> int:
        """Best grid index: highest score, ties to the stronger regularization (smaller C)."""
        if not np.isfinite(col).any():
            return len(col) // 2
        col = np.where(np.isfinite(col), col, -np.inf)
        return int(np.flatnonzero(col >= col.max() - 1e-12)[0])

    def _val_scores(self, Z: torch.Tensor, Y_val: np.ndarray, names, warn: bool = True) -> np.ndarray:
        from .._utils.numeric import roc_auc_columns, two_classes

        Zn = Z.detach().cpu().numpy().astype(np.float64)
        k, A = Zn.shape[1], Zn.shape[2]
        out = np.full((k, A), np.nan)
        for a in range(A):
            y = Y_val[:, a]
            keep = y >= 0
            if not keep.any():
                continue
            if self.selection == "auc" and two_classes(y):
                out[:, a] = roc_auc_columns(y, Zn[:, :, a])
                continue
            if self.selection == "auc" and warn:
                warnings.warn(f"attribute {names[a]}: one class in the validation rows; C chosen by log-loss",
                              stacklevel=5)
            z, yy = Zn[keep, :, a], y[keep, None]
            out[:, a] = -np.mean(np.logaddexp(0, z) - yy * z, axis=0)
        return out

    def _solve(self, feed: Feed, W, b, C: np.ndarray, n_a, active, attribute_of=None) -> np.ndarray:
        """Minimize every active column's objective from the current (W, b), in place.

        Column j of W (D, K) is the probe of attribute ``attribute_of[j]`` (default j) with
        strength ``C[j]``. Returns the L-BFGS iterations per column (K,)."""
        D, K = W.shape
        attr = torch.arange(K, device=W.device) if attribute_of is None else \
            torch.as_tensor(np.asarray(attribute_of), dtype=torch.long, device=W.device)
        n_col = n_a[attr]
        lam = 1.0 / (torch.as_tensor(C, dtype=W.dtype, device=W.device) * n_col)  # penalty lam/2 ||w||^2

        def fg(theta, cols):
            """Mean objective (k,) and gradient (D+1, k) of columns ``cols`` at ``theta`` (D+1, k)."""
            w, bb = theta[:D], theta[D]
            loss = torch.zeros(len(cols), dtype=torch.float64, device=W.device)
            grad = torch.zeros_like(theta)
            a = attr[cols]
            for rows, x in feed:
                z = x @ w + bb
                y, m = feed.Y[rows][:, a], feed.M[rows][:, a]
                loss += ((nn.functional.softplus(z) - y * z) * m).sum(0, dtype=torch.float64)
                r = (torch.sigmoid(z) - y) * m
                grad[:D] += (r.T @ x).T
                grad[D] += r.sum(0)
            na, lm = n_col[cols], lam[cols]
            grad /= na
            grad[:D] += lm * w
            loss = loss / na.double() + 0.5 * (lm * (w * w).sum(0)).double()
            return loss, grad

        theta = torch.cat([W.detach(), b.detach()[None]])
        iters = batched_lbfgs(fg, theta, active, self.tol, self.max_iter)
        with torch.no_grad():
            W.copy_(theta[:D])
            b.copy_(theta[D])
        return iters

    # --------------------------------------------------------------- prediction
    def _decision(self, X, mean, scale, W, b) -> torch.Tensor:
        """Raw X (array or chunks) -> logits (n, W.shape[1]) on the device."""
        chunks = X if isinstance(X, ChunkedFeatures) else ChunkedFeatures.from_array(X, self.chunk_size)
        outs = []
        with torch.no_grad():
            for x in chunks:
                t = torch.as_tensor(np.asarray(x), device=W.device).to(W.dtype)
                outs.append(((t - mean) / scale) @ W + b)
        if not outs:
            return torch.empty((0, W.shape[1]), dtype=W.dtype, device=W.device)
        return torch.cat(outs)

    def _logits(self, X) -> np.ndarray:
        """Logits (n, A) of every output column."""
        check_is_fitted(self, "coef_")
        X = check_features(self, X, reset=False)
        if not isinstance(X, ChunkedFeatures):
            check_finite_array(X, "X")
        dev = resolve_device(self.device) if self.device is not None else torch.device("cpu")
        dt = torch.float64
        W = torch.as_tensor(self.coef_.T, dtype=dt, device=dev)
        b = torch.as_tensor(self.intercept_, dtype=dt, device=dev)
        mean = torch.as_tensor(self.mean_, dtype=dt, device=dev)
        scale = torch.as_tensor(self.scale_, dtype=dt, device=dev)
        return self._decision(X, mean, scale, W, b).cpu().numpy()

    def decision_function(self, X) -> np.ndarray:
        """Logits: (n, A) for indicator columns, (n,) for a binary y, (n, K) one-vs-rest."""
        z = self._logits(X)
        return z if self.multilabel_ or len(self.classes_) > 2 else z[:, 0]

    def predict_proba(self, X) -> np.ndarray:
        """Indicator columns: the probability that each attribute is 1, (n, A). A 1-D y: the
        probability of each class, (n, K) (one-vs-rest sigmoids normalized over the classes)."""
        p = 1.0 / (1.0 + np.exp(-self._logits(X)))
        if self.multilabel_:
            return p
        if len(self.classes_) == 1:
            return np.ones((len(p), 1))
        if len(self.classes_) == 2:
            return np.hstack([1.0 - p, p])
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Indicator columns: int8 (n, A). A 1-D y: the predicted label of each row (n,)."""
        z = self._logits(X)
        if self.multilabel_:
            return (z > 0).astype(np.int8)
        if len(self.classes_) <= 2:
            return self.classes_[(z[:, 0] > 0).astype(int) if len(self.classes_) == 2 else np.zeros(len(z), int)]
        return self.classes_[z.argmax(axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy: of the labels of a 1-D y, or over every (row, attribute) pair with a label
        (-1 = missing is skipped) of indicator columns."""
        if not self.multilabel_:
            return super().score(X, y, sample_weight)
        Y, _, _ = encode_targets(y, len(X))
        keep = Y >= 0
        return float((self.predict(X) == Y)[keep].mean())

    # ------------------------------------------------------------------ export
    def to_module(self) -> nn.Module:
        """An ``nn.Linear(D, A)`` (float32) mapping raw flattened features to logits, with the
        standardization folded into its weights."""
        check_is_fitted(self, "coef_")
        w = self.coef_ / self.scale_[None, :]
        bias = self.intercept_ - w @ self.mean_
        lin = nn.Linear(self.n_features_in_, self.n_outputs_)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w, dtype=torch.float32))
            lin.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        return lin.eval()

    def save(self, path, layer: str | None = None, attribute_names=None, pooling: str | None = None,
             module_path: str | None = None) -> Path:
        """Write the fitted probe (plain tensors and metadata; loadable with ``weights_only=True``).

        ``layer``, ``attribute_names``, ``pooling`` and ``module_path``, when given, say where the
        features come from and are recorded on the probe too, so :meth:`load` gives back a probe
        equal to this one, attribute for attribute.
        """
        check_is_fitted(self, "coef_")
        for name, value in (("layer_", layer), ("pooling_", pooling), ("module_path_", module_path)):
            if value is not None:
                setattr(self, name, str(value))
        if attribute_names is not None:
            if len(attribute_names) != self.n_outputs_:
                raise XaiprobeError(f"LinearProbe.save: {len(attribute_names)} attribute names for "
                                    f"{self.n_outputs_} outputs")
            self.attribute_names_ = [str(a) for a in attribute_names]
        params = {k: (list(map(float, np.ravel(v))) if isinstance(v, (np.ndarray, list, tuple)) else v)
                  for k, v in self.get_params().items()}
        params["device"] = None if self.device is None else str(self.device)
        state = {}
        for k in FITTED:
            v = getattr(self, k)
            state[k] = pack_array(v) if isinstance(v, np.ndarray) else v
        if hasattr(self, "feature_names_in_"):
            state["feature_names_in_"] = pack_array(self.feature_names_in_)
        obj = {"format": FORMAT, "version": 2, "params": params, "state": state}
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
        return path

    @classmethod
    def load(cls, path) -> "LinearProbe":
        """Read a probe written by :meth:`save`: equal to the saved one, attribute for attribute."""
        obj = load_estimator_dict(path, FORMAT, "linear probe")
        params = dict(obj["params"])
        if isinstance(params.get("C"), list):
            params["C"] = np.asarray(params["C"])
        if isinstance(params.get("Cs"), list):
            params["Cs"] = tuple(params["Cs"])
        known = cls._get_param_names()
        probe = cls(**{k: v for k, v in params.items() if k in known})
        if "state" not in obj:
            raise XaiprobeError(f"linear probe {path}: written by an older xaiprobe (format version "
                                f"{obj.get('version')}); fit and save the probe again")
        for k, v in obj["state"].items():
            setattr(probe, k, unpack_array(v) if isinstance(v, dict) and "dtype" in v else v)
        return probe

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
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path
from .features import (ChunkedFeatures, NonFiniteFeatures, _Feed, _n_features, auto_threads,  # noqa: F401
                       feature_stats, limit_threads)
from .lbfgs import batched_lbfgs  # noqa: F401  (importable from here too)

log = logging.getLogger(__name__)

DEFAULT_CS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
FORMAT = "xaiprobe.linear_probe"


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
        rows falls back to the log-loss).
    val_fraction : float
        Share of the training rows held out to choose C when no validation data is passed.
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
    n_iter_ : ndarray of int (len(Cs), A)
        L-BFGS iterations per grid value and attribute (one row when ``C`` is given).
    n_features_in_ : int
    n_outputs_ : int
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

    # ------------------------------------------------------------------ fitting
    def _setup(self):
        if self.dtype not in ("float32", "float64"):
            raise XaiprobeError(f"LinearProbe dtype {self.dtype!r}: use float32 or float64")
        if self.selection not in ("auc", "loss"):
            raise XaiprobeError(f"LinearProbe selection {self.selection!r}: use auc or loss")
        self._device = resolve_device(self.device)
        self._dtype = torch.float64 if self.dtype == "float64" else torch.float32
        if self._device.type == "mps" and self._dtype == torch.float64:
            self._dtype = torch.float32

    @staticmethod
    def _check_Y(Y, n, what="Y") -> np.ndarray:
        Y = np.asarray(Y)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2 or Y.shape[0] != n:
            raise XaiprobeError(f"LinearProbe: {what} has shape {Y.shape} but X has {n} rows; pass labels (n, A)")
        vals = np.unique(Y)
        if not np.isin(vals, (-1, 0, 1)).all():
            raise XaiprobeError(f"LinearProbe: {what} holds values {vals[:6].tolist()}; labels must be 0/1 (-1 = missing)")
        return Y.astype(np.int8)

    def fit(self, X, Y, X_val=None, Y_val=None, attribute_names=None) -> "LinearProbe":
        """Fit all attributes at once.

        Parameters
        ----------
        X : array-like (n, D) or ChunkedFeatures
            Raw (unstandardized) training features.
        Y : array of int (n, A) or (n,)
            Binary labels; -1 marks a missing label (ignored).
        X_val, Y_val : optional
            Validation data for choosing C (when ``C`` is None).
        attribute_names : list of str, optional
            Names used in warnings and saved files.

        Returns
        -------
        self
        """
        n_values = len(X) * _n_features(X)
        with limit_threads(auto_threads(self.n_threads, n_values, self.device)):
            return self._fit(X, Y, X_val, Y_val, attribute_names)

    def _fit(self, X, Y, X_val, Y_val, attribute_names) -> "LinearProbe":
        self._setup()
        self._refit_X = self._refit_Y = None
        n = len(X)
        if n == 0:
            raise XaiprobeError("LinearProbe: no training rows; check the split has samples")
        Y = self._check_Y(Y, n)
        A = Y.shape[1]
        names = [str(a) for a in attribute_names] if attribute_names is not None else [f"y{a}" for a in range(A)]
        if len(names) != A:
            raise XaiprobeError(f"LinearProbe: {len(names)} attribute names for {A} label columns")
        if self.C is None and X_val is None:
            X, Y, X_val, Y_val = self._holdout(X, Y)
        mean, std, bad = feature_stats(X, self.chunk_size)
        if bad:
            raise NonFiniteFeatures(f"features: {bad} NaN/infinite values in the training rows; "
                                    "re-extract the activations (float32) or drop that layer", bad)
        scale = np.where(std > 0, std, 1.0)
        max_bytes = self.max_memory_mb * 2 ** 20
        feed = _Feed(X, Y, mean, scale, self._device, self._dtype, max_bytes, self.chunk_size)
        D = len(mean)
        self.mean_, self.scale_ = mean, scale
        self.n_features_in_, self.n_outputs_ = D, A
        self.attribute_names_ = names
        self.streaming_ = feed.streaming

        pos = ((Y == 1).sum(0)).astype(np.float64)
        cnt = (Y >= 0).sum(0).astype(np.float64)
        self.active_ = (pos > 0) & (pos < cnt)
        for a in np.flatnonzero(~self.active_):
            warnings.warn(f"attribute {names[a]}: only one class in the {int(cnt[a])} training rows; "
                          "its probe predicts a constant", stacklevel=2)
        rate = np.clip(pos / np.maximum(cnt, 1), 1e-6, 1 - 1e-6)
        b0 = np.log(rate / (1 - rate))

        W = torch.zeros(D, A, dtype=self._dtype, device=self._device)
        b = torch.as_tensor(b0, dtype=self._dtype, device=self._device).clone()
        n_a = torch.as_tensor(np.maximum(cnt, 1), dtype=self._dtype, device=self._device)
        active = torch.as_tensor(self.active_, device=self._device)

        if self.C is not None:
            C = np.broadcast_to(np.asarray(self.C, dtype=np.float64), (A,)).copy()
            if (C <= 0).any():
                raise XaiprobeError(f"LinearProbe C={self.C}: must be positive")
            self.n_iter_ = self._solve(feed, W, b, C, n_a, active)[None, :]
            self.val_scores_ = None
            self.C_ = C
        else:
            Cs = np.sort(np.asarray(self.Cs, dtype=np.float64).reshape(-1))
            if Cs.size == 0 or (Cs <= 0).any():
                raise XaiprobeError(f"LinearProbe Cs={self.Cs}: pass positive values")
            Y_val = self._check_Y(Y_val, len(X_val), "Y_val")
            if Y_val.shape[1] != A:
                raise XaiprobeError(f"LinearProbe: Y_val has {Y_val.shape[1]} columns, Y has {A}")
            # every (C, attribute) pair is one column of a single batched problem: one pass over
            # the features per L-BFGS evaluation serves the whole grid (column k*A + a is Cs[k], a)
            nC = len(Cs)
            Wall, ball = W.detach().repeat(1, nC), b.detach().repeat(nC)
            iters = self._solve(feed, Wall, ball, np.repeat(Cs, A), n_a, active.repeat(nC),
                                attribute_of=np.tile(np.arange(A), nC))
            self.n_iter_ = iters.reshape(nC, A)
            Z = self._decision(X_val, feed.mean, feed.scale, Wall, ball).reshape(len(X_val), nC, A)
            scores = self._val_scores(Z, Y_val, names)
            self.val_scores_ = scores
            best = np.array([self._pick(scores[:, a]) for a in range(A)])
            self.C_ = Cs[best]
            Wsel = torch.stack([Wall[:, k * A + a] for a, k in enumerate(best)], dim=1)
            bsel = torch.stack([ball[k * A + a] for a, k in enumerate(best)])
            with torch.no_grad():
                W.copy_(Wsel)
                b.copy_(bsel)
            if getattr(self, "_refit_X", None) is not None:
                # C was chosen on an internal holdout: refit on all the training rows
                Xf, Yf = self._refit_X, self._refit_Y
                self._refit_X = self._refit_Y = None
                return self._refit(Xf, Yf, names)
        self.coef_ = W.detach().T.cpu().numpy().astype(np.float64)
        self.intercept_ = b.detach().cpu().numpy().astype(np.float64)
        return self

    def _refit(self, X, Y, names):
        C_, scores = self.C_, self.val_scores_
        params = self.get_params()
        params["C"] = C_
        other = type(self)(**params).fit(X, Y, attribute_names=names)
        self.__dict__.update({k: v for k, v in other.__dict__.items() if k.endswith("_")})
        self.val_scores_ = scores
        return self

    def _holdout(self, X, Y):
        if isinstance(X, ChunkedFeatures):
            X = X.to_numpy()
        n = len(X)
        rng = np.random.default_rng(self.random_state)
        perm = rng.permutation(n)
        k = max(1, int(round(n * self.val_fraction)))
        if n - k < 2:
            raise XaiprobeError(f"LinearProbe: {n} training rows are too few to hold out validation rows; pass C or X_val")
        va, tr = np.sort(perm[:k]), np.sort(perm[k:])
        Xa = np.asarray(X)
        self._refit_X, self._refit_Y = Xa, Y
        return Xa[tr], Y[tr], Xa[va], Y[va]

    def _pick(self, col: np.ndarray) -> int:
        """Best grid index: highest score, ties to the stronger regularization (smaller C)."""
        if not np.isfinite(col).any():
            return len(col) // 2
        col = np.where(np.isfinite(col), col, -np.inf)
        return int(np.flatnonzero(col >= col.max() - 1e-12)[0])

    def _val_scores(self, Z: torch.Tensor, Y_val: np.ndarray, names) -> np.ndarray:
        from .metrics import roc_auc_columns, two_classes

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
            if self.selection == "auc":
                warnings.warn(f"attribute {names[a]}: one class in the validation rows; C chosen by log-loss", stacklevel=4)
            z, yy = Zn[keep, :, a], y[keep, None]
            out[:, a] = -np.mean(np.logaddexp(0, z) - yy * z, axis=0)
        return out

    def _solve(self, feed: _Feed, W, b, C: np.ndarray, n_a, active, attribute_of=None) -> np.ndarray:
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

    def _check_X(self, X):
        check_is_fitted(self, "coef_")
        if _n_features(X) != self.n_features_in_:
            raise XaiprobeError(f"LinearProbe: X has {_n_features(X)} features but the probe was fitted on "
                                f"{self.n_features_in_}; use features of the same layer and pooling")

    def decision_function(self, X) -> np.ndarray:
        """Logits, ndarray (n, A)."""
        self._check_X(X)
        dev = resolve_device(self.device) if self.device is not None else torch.device("cpu")
        dt = torch.float64
        W = torch.as_tensor(self.coef_.T, dtype=dt, device=dev)
        b = torch.as_tensor(self.intercept_, dtype=dt, device=dev)
        mean = torch.as_tensor(self.mean_, dtype=dt, device=dev)
        scale = torch.as_tensor(self.scale_, dtype=dt, device=dev)
        return self._decision(X, mean, scale, W, b).cpu().numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Probability that each attribute is 1, ndarray (n, A)."""
        z = self.decision_function(X)
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, X) -> np.ndarray:
        """Predicted labels, int8 ndarray (n, A)."""
        return (self.decision_function(X) >= 0).astype(np.int8)

    def score(self, X, Y, sample_weight=None) -> float:
        """Mean accuracy over all (row, attribute) pairs with a label (-1 = missing is skipped)."""
        Y = self._check_Y(Y, len(X))
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

    def save(self, path, layer: str = "", attribute_names=None, pooling: str = "", module_path: str = "",
             extra: dict | None = None) -> Path:
        """Write the fitted probe as plain tensors + metadata (loadable with ``weights_only=True``)."""
        check_is_fitted(self, "coef_")
        params = {k: (list(map(float, np.ravel(v))) if isinstance(v, (np.ndarray, list, tuple)) else v)
                  for k, v in self.get_params().items()}
        params["device"] = None if self.device is None else str(self.device)
        obj = {
            "format": FORMAT, "version": 1, "params": params,
            "coef": torch.as_tensor(self.coef_), "intercept": torch.as_tensor(self.intercept_),
            "mean": torch.as_tensor(self.mean_), "scale": torch.as_tensor(self.scale_),
            "C": torch.as_tensor(np.asarray(self.C_, dtype=np.float64)),
            "active": torch.as_tensor(self.active_),
            "val_scores": None if self.val_scores_ is None else torch.as_tensor(self.val_scores_),
            "attribute_names": list(attribute_names if attribute_names is not None else self.attribute_names_),
            "layer": str(layer), "pooling": str(pooling or ""), "module_path": str(module_path or ""),
            "extra": dict(extra or {}),
        }
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
        return path

    @classmethod
    def load(cls, path) -> "LinearProbe":
        """Read a probe written by :meth:`save` (sets ``layer_``, ``pooling_``, ``module_path_``)."""
        obj = _load_dict(path, FORMAT, "linear probe")
        params = dict(obj["params"])
        if isinstance(params.get("C"), list):
            params["C"] = np.asarray(params["C"])
        if isinstance(params.get("Cs"), list):
            params["Cs"] = tuple(params["Cs"])
        known = cls._get_param_names()
        probe = cls(**{k: v for k, v in params.items() if k in known})
        probe.coef_ = obj["coef"].numpy()
        probe.intercept_ = obj["intercept"].numpy()
        probe.mean_, probe.scale_ = obj["mean"].numpy(), obj["scale"].numpy()
        probe.C_, probe.active_ = obj["C"].numpy(), obj["active"].numpy()
        probe.val_scores_ = None if obj.get("val_scores") is None else obj["val_scores"].numpy()
        probe.n_features_in_, probe.n_outputs_ = probe.coef_.shape[1], probe.coef_.shape[0]
        probe.attribute_names_ = list(obj["attribute_names"])
        probe.layer_, probe.pooling_ = obj["layer"], obj["pooling"]
        probe.module_path_, probe.extra_ = obj["module_path"], dict(obj.get("extra", {}))
        probe.streaming_, probe.n_iter_ = False, np.array([], dtype=int)
        return probe


def _load_dict(path, fmt: str, what: str) -> dict:
    from .._utils.io import safe_torch_load

    path = Path(path)
    obj = safe_torch_load(path, what, "write it with save() or `xaiprobe probe/decode`", "re-create it")
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise XaiprobeError(f"{what} {path}: not a {fmt} file; pass a file written by xaiprobe")
    return obj

"""A self-supervised feature space: a small CNN trained with SimCLR on unlabeled images.

No labels are read. Two augmented views of each image (random crops of 60-100% of the side,
horizontal flips, mild brightness/contrast changes and pixel noise; hue and saturation are
left alone so that colour attributes stay visible in the features) are pulled together and
pushed from the other images of the batch (NT-Xent, temperature 0.2). The encoder is trained
once per setting and cached; a shipped ``xaiprobe/assets/audit_selfsup_synthfaces.pt`` is used
when it exists and matches the default setting.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .._utils.errors import XaiprobeError
from ._cnn import SmallCNN

log = logging.getLogger(__name__)

__all__ = ["selfsup_encoder", "train_selfsup_encoder", "SELFSUP_DEFAULTS"]

FORMAT = "xaiprobe.audit_selfsup"
VERSION = 1
#: the setting a shipped encoder is trained with
SELFSUP_DEFAULTS = {"data": "synthfaces:2000", "steps": 200, "batch_size": 96, "width": 32, "seed": 0}
ASSET = Path(__file__).resolve().parent.parent / "assets" / "audit_selfsup_synthfaces.pt"


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random view of each image (N, 3, S, S) in [-1, 1]."""
    n = x.shape[0]
    u = lambda *s: torch.rand(*s, generator=gen)  # noqa: E731
    scale = 0.6 + 0.4 * u(n)
    flip = torch.where(u(n) < 0.5, -1.0, 1.0)
    tx, ty = (1 - scale) * (2 * u(n) - 1), (1 - scale) * (2 * u(n) - 1)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = scale * flip, scale
    theta[:, 0, 2], theta[:, 1, 2] = tx, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    v = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    bright = 0.2 * (2 * u(n, 1, 1, 1) - 1)
    contrast = 1 + 0.2 * (2 * u(n, 1, 1, 1) - 1)
    mean = v.mean(dim=(1, 2, 3), keepdim=True)
    v = (v - mean) * contrast + mean + bright
    v = v + 0.03 * torch.randn(v.shape, generator=gen)
    return v.clamp(-1, 1)


def _nt_xent(p: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """SimCLR loss of projections (2N, d): rows i and i±N are the two views of one image."""
    p = F.normalize(p, dim=1)
    n2 = p.shape[0]
    sim = p @ p.T / temperature
    sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool), float("-inf"))
    target = (torch.arange(n2) + n2 // 2) % n2
    return F.cross_entropy(sim, target)


def train_selfsup_encoder(data: str = SELFSUP_DEFAULTS["data"], steps: int = SELFSUP_DEFAULTS["steps"],
                          batch_size: int = SELFSUP_DEFAULTS["batch_size"], width: int = SELFSUP_DEFAULTS["width"],
                          seed: int = SELFSUP_DEFAULTS["seed"], out=None, lr: float = 2e-3) -> SmallCNN:
    """Train a :class:`~xaiprobe.audit.SmallCNN` encoder with SimCLR on the images of ``data``.

    Parameters
    ----------
    data : str
        A data spec (``synthfaces:4000``); only its train-split images are read, never labels.
    steps, batch_size, width, seed : int
    out : path, optional
        Also save the encoder there (the file :func:`selfsup_encoder` reads).

    Returns
    -------
    SmallCNN in eval mode, its ``loss_history_`` the loss per step.
    """
    from ..data import load_dataset

    ds = load_dataset(data)
    rows = ds.rows_of("train")
    if rows.size < 2:
        raise XaiprobeError(f"selfsup data {data!r}: fewer than 2 training images; use a larger data set")
    images = torch.cat([F.interpolate(x, size=(SmallCNN().size,) * 2, mode="area")
                        for _, x in ds.batches(rows, 512)])
    gen = torch.Generator().manual_seed(int(seed))
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        enc = SmallCNN(width=width)
        head = nn.Sequential(nn.Linear(enc.dim, 256), nn.ReLU(), nn.Linear(256, 64))
    from ._train import Adam

    params = [*enc.parameters(), *head.parameters()]
    opt = Adam(params, lr=lr, weight_decay=1e-5)
    warm = max(1, int(steps) // 10)
    bs = min(int(batch_size), images.shape[0])
    history, t0 = [], time.perf_counter()
    enc.train()
    for step in range(int(steps)):
        idx = torch.randperm(images.shape[0], generator=gen)[:bs]
        x = images[idx]
        views = torch.cat([_augment(x, gen), _augment(x, gen)])
        loss = _nt_xent(head(enc(views)))
        # linear warm-up over the first tenth of the steps, then cosine decay to zero
        opt.lr = lr * (step + 1) / warm if step < warm else \
            lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(int(steps) - warm, 1)))
        opt.step(torch.autograd.grad(loss, params))
        history.append(float(loss.detach()))
        if step % 50 == 0:
            log.info("selfsup step %d/%d: loss %.3f", step, steps, history[-1])
    log.info("selfsup encoder: %d steps in %.1f s, loss %.3f -> %.3f", steps, time.perf_counter() - t0,
             history[0] if history else math.nan, history[-1] if history else math.nan)
    enc.eval()
    for p in enc.parameters():
        p.requires_grad_(False)
    enc.loss_history_ = history
    if out is not None:
        _save(out, enc, {"data": data, "steps": int(steps), "batch_size": int(batch_size), "width": int(width),
                         "seed": int(seed)})
    return enc


def _save(path, enc: SmallCNN, params: dict) -> Path:
    from .._utils.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, "params": params,
                    "state_dict": {k: v.detach().cpu() for k, v in enc.state_dict().items()},
                    "loss_history": list(getattr(enc, "loss_history_", []))}, tmp)
    return path


def _load(path) -> tuple[SmallCNN, dict]:
    from .._utils.io import safe_torch_load
    from ..gan.checkpoint import load_state_dict_checked

    obj = safe_torch_load(path, "selfsup encoder", "train one with xaiprobe.audit.train_selfsup_encoder(out=PATH)",
                          "delete it; it is trained again on first use")
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise XaiprobeError(f"selfsup encoder {path}: not an xaiprobe selfsup encoder; delete it")
    enc = SmallCNN(width=int(obj["params"].get("width", 32)))
    load_state_dict_checked(enc, obj["state_dict"], f"selfsup encoder {path}")
    enc.eval()
    for p in enc.parameters():
        p.requires_grad_(False)
    enc.loss_history_ = list(obj.get("loss_history", []))
    return enc, dict(obj["params"])


def cache_path(params: dict, cache_dir=None) -> Path:
    """Where the encoder of ``params`` is cached (env ``XAIPROBE_CACHE`` or ``~/.cache/xaiprobe``)."""
    from ..data.registry import default_cache_dir

    key = hashlib.sha256(json.dumps({**params, "version": VERSION}, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()) / f"audit_selfsup_{key}.pt"


def selfsup_encoder(data: str = SELFSUP_DEFAULTS["data"], steps: int = SELFSUP_DEFAULTS["steps"],
                    batch_size: int = SELFSUP_DEFAULTS["batch_size"], width: int = SELFSUP_DEFAULTS["width"],
                    seed: int = SELFSUP_DEFAULTS["seed"], cache_dir=None, path=None) -> SmallCNN:
    """The self-supervised encoder: from ``path``, the shipped asset, the cache, or trained now.

    Training (about a minute on 2 CPU cores with the defaults) happens once per setting; the
    result is cached under ``cache_dir`` and reused by every later audit.
    """
    if path is not None:
        return _load(path)[0]
    params = {"data": data, "steps": int(steps), "batch_size": int(batch_size), "width": int(width), "seed": int(seed)}
    if params == SELFSUP_DEFAULTS and ASSET.is_file():
        return _load(ASSET)[0]
    cached = cache_path(params, cache_dir)
    if cached.is_file():
        try:
            return _load(cached)[0]
        except XaiprobeError as exc:
            log.warning("%s; training the selfsup encoder again", exc)
    log.info("training the selfsup encoder once (%s, %d steps); it is cached at %s", data, steps, cached)
    enc = train_selfsup_encoder(**params)
    try:
        _save(cached, enc, params)
    except (OSError, XaiprobeError) as exc:
        log.warning("could not cache the selfsup encoder at %s (%s)", cached, exc)
    return enc

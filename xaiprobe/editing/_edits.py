"""Edits z + αd: the α grid, the edited latents and the images G(z + αd)."""
from __future__ import annotations

import re

import numpy as np
import torch

from .._utils.errors import XaiprobeError
from ._directions import generate

__all__ = ["parse_alphas", "edit_latents", "edit_images", "select_names"]


def parse_alphas(spec) -> np.ndarray:
    """α values from ``"start:stop:count"`` (inclusive, like linspace), ``"a,b,c"`` or a sequence.

    Anything that is not a finite number raises XaiprobeError.
    """
    if not isinstance(spec, str):
        try:
            a = np.asarray(spec, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise XaiprobeError(f"alphas {spec!r}: not numbers; use start:stop:count (e.g. -3:3:7) or a comma list") from None
    else:
        text = spec.strip()
        try:
            if ":" in text:
                parts = text.split(":")
                if len(parts) != 3:
                    raise ValueError
                start, stop, count = float(parts[0]), float(parts[1]), parts[2].strip()
                if not re.fullmatch(r"\d+", count) or int(count) < 1:
                    raise ValueError
                a = np.linspace(start, stop, int(count))
            else:
                a = np.asarray([float(p) for p in text.split(",") if p.strip()], dtype=np.float64)
        except ValueError:
            raise XaiprobeError(f"alphas {spec!r}: not numbers; use start:stop:count with an integer count "
                                "(e.g. -3:3:7) or a comma list (e.g. -2,0,2)") from None
    if a.size == 0 or not np.isfinite(a).all():
        raise XaiprobeError(f"alphas {spec!r}: need at least one finite number; use e.g. -3:3:7")
    return a


def edit_latents(z: torch.Tensor, direction: torch.Tensor, alphas) -> torch.Tensor:
    """Edited latents z + α d, shape (n, k, nz) for z (n, nz), d (nz,), alphas (k,)."""
    z = torch.as_tensor(z, dtype=torch.float32)
    d = torch.as_tensor(direction, dtype=torch.float32).reshape(1, 1, -1)
    if d.shape[-1] != z.shape[-1]:
        raise XaiprobeError(f"edit: direction has {d.shape[-1]} dimensions but the latents have {z.shape[-1]}; "
                            "fit directions for this generator")
    a = torch.as_tensor(np.asarray(alphas, np.float64), dtype=torch.float32).reshape(1, -1, 1)
    return z[:, None, :] + a * d


def edit_images(G, z: torch.Tensor, direction: torch.Tensor, alphas, batch_size: int = 256) -> torch.Tensor:
    """Images (n, k, 3, H, W) of G(z_i + α_j d) for n latents and k alphas (G on its own device)."""
    zz = edit_latents(z, direction, alphas)
    n, k, nz = zz.shape
    x = generate(G, zz.reshape(n * k, nz), batch_size)
    return x.reshape(n, k, *x.shape[1:])


def select_names(arg, valid: list, what: str) -> list:
    """Names from a comma string or a list; None, empty, or ``all`` among them: every valid one."""
    names = [str(s).strip() for s in ((arg or "").split(",") if isinstance(arg, str) or arg is None else arg)]
    names = [s for s in names if s]
    if not names or "all" in names:
        return list(valid)
    return list(dict.fromkeys(names))

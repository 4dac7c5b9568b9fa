"""Device selection: CUDA when present, else CPU."""
from __future__ import annotations

import torch

from .errors import XaiprobeError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` as a torch.device; ``None`` or ``"auto"`` picks CUDA when present."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise XaiprobeError(f"device {device!r}: not a torch device ({exc}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise XaiprobeError(f"device {device!r}: CUDA is not available on this machine; use --device cpu")
    return dev

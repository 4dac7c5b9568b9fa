"""Filters and units: first-layer weights, receptive fields, top activating images per channel."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._utils.errors import XaiprobeError
from ..activations.hooks import resolve_layer
from .._utils.coerce import evaluating, module_device
from ._targets import LayerOutput

log = logging.getLogger(__name__)


def first_conv_weights(model: nn.Module) -> np.ndarray:
    """Weights of the first Conv2d, shape (out_channels, in_channels, kH, kW)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.weight.detach().float().cpu().numpy()
    raise XaiprobeError("filters: the model has no nn.Conv2d layer; filter views need a convolutional discriminator")


def filter_grid(weights: np.ndarray, ncols: int | None = None, pad: int = 1, upscale: int = 4) -> np.ndarray:
    """Tile conv filters into one RGB image.

    Each filter is scaled on its own, symmetrically around zero (gray = 0), so the colors
    show which input colors it responds to positively (bright) and negatively (dark).

    Parameters
    ----------
    weights : ndarray, shape (out, in, kH, kW)
        ``in`` is 3 (RGB) or 1 (grayscale); other counts show the mean over inputs.
    ncols : int, optional
    pad : int
        Pixels between tiles (white).
    upscale : int
        Nearest-neighbour upscaling of each filter pixel.

    Returns
    -------
    ndarray, shape (H, W, 3), float in [0, 1]
    """
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim != 4:
        raise XaiprobeError(f"filters: expected conv weights (out, in, kH, kW), got shape {w.shape}")
    if w.shape[1] != 3:
        w = np.repeat(w.mean(1, keepdims=True), 3, axis=1)
    scale = np.abs(w).reshape(len(w), -1).max(1)
    scale[scale == 0] = 1.0
    w = w / (2 * scale[:, None, None, None]) + 0.5
    w = np.repeat(np.repeat(w, upscale, axis=2), upscale, axis=3)
    n, _, kh, kw = w.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.ones((nrows * (kh + pad) + pad, ncols * (kw + pad) + pad, 3), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        y, x = pad + r * (kh + pad), pad + c * (kw + pad)
        grid[y:y + kh, x:x + kw] = w[i].transpose(1, 2, 0)
    return grid


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a layer's units in input pixels.

    ``size`` pixels wide, units ``stride`` pixels apart, unit (0, 0) centered at ``start``
    (may be fractional or negative: the field reaches into the padding).
    """

    size: int
    stride: int
    start: float

    def box(self, y: int, x: int, image_size: int | None = None) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) pixel box of unit (y, x); clipped to the image when ``image_size``."""
        y0 = int(np.floor(self.start + y * self.stride - self.size / 2 + 0.5))
        x0 = int(np.floor(self.start + x * self.stride - self.size / 2 + 0.5))
        y1, x1 = y0 + self.size, x0 + self.size
        if image_size is not None:
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, image_size), min(x1, image_size)
        return y0, y1, x0, x1


def _pair(v) -> int:
    return int(v[0] if isinstance(v, (tuple, list)) else v)


def receptive_fields(model: nn.Module) -> dict[str, ReceptiveField]:
    """Receptive field after each module, walking Conv2d / pooling modules in definition order.

    Exact for sequential conv stacks (the DCGAN discriminator); for other models it assumes
    the modules run in the order they are defined. Modules that do not change geometry
    (activations, batch norm) inherit the field of the module before them.

    Returns
    -------
    dict
        module path -> ReceptiveField
    """
    size, stride, start = 1, 1, 0.0
    out = {}
    for name, m in model.named_modules():
        if not name:
            continue
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
            d = _pair(getattr(m, "dilation", 1))
            k_eff = d * (k - 1) + 1
            start = start + ((k_eff - 1) / 2 - p) * stride
            size = size + (k_eff - 1) * stride
            stride = stride * s
        out[name] = ReceptiveField(int(size), int(stride), float(start))
    return out


def receptive_field(model: nn.Module, layer) -> ReceptiveField:
    """Receptive field of ``layer`` (alias, module path or module)."""
    _, path, _ = resolve_layer(model, layer)
    fields = receptive_fields(model)
    if path in fields:
        return fields[path]
    inner = [p for p in fields if p.startswith(path + ".")]
    if inner:
        return fields[inner[-1]]
    raise XaiprobeError(f"layer {layer}: cannot compute its receptive field; pick a conv layer")


@dataclass
class TopActivations:
    """The ``k`` data set images that activate each channel most.

    Attributes
    ----------
    layer : str
    channels : list of int
    rows : ndarray of int64, shape (n_channels, k)
        Data set rows, best first.
    values : ndarray, shape (n_channels, k)
        The channel's maximum over positions in that image.
    positions : ndarray of int, shape (n_channels, k, 2)
        (y, x) of that maximum in the layer's output.
    crops : ndarray of float, shape (n_channels, k, 3, s, s)
        Receptive-field crops around the maximum ([-1, 1]; zero outside the image).
    field : ReceptiveField
    """

    layer: str
    channels: list
    rows: np.ndarray
    values: np.ndarray
    positions: np.ndarray
    crops: np.ndarray
    field: ReceptiveField


def parse_channels(spec, n_channels: int) -> list[int]:
    """Channels from ``None`` (first 16), an int, a list, or ``"a:b"`` / ``"a,b,c"``."""
    if spec is None:
        return list(range(min(16, n_channels)))
    if isinstance(spec, int):
        chans = [spec]
    elif isinstance(spec, str):
        try:
            if ":" in spec:
                a, b = spec.split(":", 1)
                chans = list(range(int(a or 0), min(int(b) if b else n_channels, n_channels)))
            else:
                chans = [int(c) for c in spec.split(",") if c.strip()]
        except ValueError:
            raise XaiprobeError(f"channels {spec!r}: not a range; write A:B (e.g. 0:16) or a list 0,3,7") from None
    else:
        chans = [int(c) for c in spec]
    bad = [c for c in chans if not 0 <= c < n_channels]
    if bad or not chans:
        raise XaiprobeError(f"channels {spec!r}: the layer has channels 0..{n_channels - 1}; pick channels in that range")
    return chans


def layer_output_shape(model: nn.Module, layer, image_shape=(3, 64, 64)) -> tuple:
    """(C, h, w) of ``layer`` for one image."""
    with evaluating(model) as base, torch.no_grad():
        body = LayerOutput(base, layer)
        return tuple(body(torch.zeros(1, *image_shape, device=module_device(base))).shape[1:])


def top_activating(model: nn.Module, data, layer, channels=None, k: int = 8, rows=None, batch_size: int = 64,
                   device=None, progress: bool = False) -> TopActivations:
    """The top-``k`` images of ``data`` for each channel of ``layer``, with receptive-field crops.

    Parameters
    ----------
    model : nn.Module
        The discriminator (used in eval mode on ``device``, restored afterwards).
    data : ImageSet
    layer : str
    channels : see :func:`parse_channels`
    k : int
    rows : array of int, optional
        Data set rows to scan (default: all).

    Returns
    -------
    TopActivations
    """
    from tqdm.auto import tqdm

    with evaluating(model, device) as base:
        body = LayerOutput(base, layer)
        dev = module_device(base)
        shape = layer_output_shape(base, layer, data.image_shape)
        if len(shape) != 3:
            raise XaiprobeError(f"layer {layer}: output shape {shape} is not a conv map; pick a conv layer (see `xaiprobe layers`)")
        chans = parse_channels(channels, shape[0])
        rows = np.arange(len(data)) if rows is None else np.asarray(rows, dtype=np.int64)
        best, where = [], []
        with torch.no_grad():
            for r, x in tqdm(data.batches(rows, batch_size), total=-(-rows.size // batch_size), desc=f"top-k {layer}",
                             disable=not progress):
                a = body(x.to(dev))[:, chans].flatten(2)  # (b, c, h*w)
                v, i = a.max(2)
                best.append(v.float().cpu().numpy())
                where.append(i.cpu().numpy())
        best, where = np.concatenate(best), np.concatenate(where)  # (N, c)
        k = min(k, rows.size)
        order = np.argsort(-best, axis=0, kind="stable")[:k].T  # (c, k)
        top_rows = rows[order]
        values = np.take_along_axis(best.T, order, axis=1)
        flat = np.take_along_axis(where.T, order, axis=1)
        pos = np.stack([flat // shape[2], flat % shape[2]], axis=-1)
        rf = receptive_field(base, layer)
        size = data.image_shape[-1]
        s = min(rf.size, size)
        images = data.images(np.unique(top_rows))
        lookup = {int(r): j for j, r in enumerate(np.unique(top_rows))}
        crops = np.zeros((len(chans), k, images.shape[1], s, s), dtype=np.float32)
        for ci in range(len(chans)):
            for j in range(k):
                img = images[lookup[int(top_rows[ci, j])]].numpy()
                if rf.size >= size:
                    crops[ci, j] = img
                    continue
                y0, _, x0, _ = rf.box(int(pos[ci, j, 0]), int(pos[ci, j, 1]))
                padded = np.pad(img, ((0, 0), (s, s), (s, s)))
                crops[ci, j] = padded[:, y0 + s:y0 + 2 * s, x0 + s:x0 + 2 * s]
        name = resolve_layer(base, layer)[0]
        return TopActivations(name, chans, top_rows, values, pos, crops, rf)

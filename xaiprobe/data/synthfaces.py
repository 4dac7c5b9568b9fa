"""SynthFaces: procedural 64x64 RGB faces rendered deterministically from (seed, index).

Every face is drawn from its own random stream ``default_rng([seed, index, ...])``, so a face
does not depend on which other faces are rendered with it. The attributes follow CelebA's
rates and correlations; the cues are local and small (Smiling: the mouth's corners curve up,
sometimes with teeth; Young: no wrinkle lines or mottled skin, and older faces grey in strands
only partly and not always; Eyeglasses: frames; Male: jaw, short hair, thick brows, stubble;
Blond_Hair: hair colour), while pose, scale, rotation, skin, hair, background, lighting and pixel
noise vary, so raw pixels are a poor linear feature for Smiling and Young.

Rendering is vectorized numpy over a batch: every shape is a signed-distance field over the
pixel grid, and its coverage ramps over one pixel (analytic anti-aliasing), so the picture is
drawn directly at 64x64 (``_SS = 2`` would supersample 2x and average-pool instead, at 4x the cost).
"""
from __future__ import annotations

import numpy as np

from .._utils.errors import XaiprobeError

#: bump when the pictures change (keys the on-disk cache)
RENDER_VERSION = 2
ATTRIBUTES = ["Smiling", "Eyeglasses", "Young", "Male", "Blond_Hair"]
CONCEPT_REGIONS = {"Smiling": "mouth", "Eyeglasses": "glasses", "Blond_Hair": "hair"}
REGIONS = ["mouth", "glasses", "hair", "face", "eyes"]

_SIZE = 64
_SS = 1
_H = _SIZE * _SS
_NU = 64  # uniform draws per face
_g = (np.arange(_H, dtype=np.float32) + 0.5) / _H * 2 - 1
_GY, _GX = np.meshgrid(_g, _g, indexing="ij")
_GX, _GY = _GX[None], _GY[None]

_HAIR = np.array([[0.07, 0.05, 0.04], [0.22, 0.13, 0.07], [0.38, 0.24, 0.13],
                  [0.50, 0.22, 0.10], [0.52, 0.40, 0.28]], np.float32)
_BLOND = np.array([[0.93, 0.80, 0.48], [0.84, 0.68, 0.36]], np.float32)
_IRIS = np.array([[0.30, 0.18, 0.08], [0.15, 0.30, 0.55], [0.25, 0.35, 0.20]], np.float32)
_FRAME = np.array([[0.05, 0.05, 0.05], [0.35, 0.20, 0.10], [0.55, 0.55, 0.58], [0.50, 0.08, 0.10]], np.float32)


def _draws(indices: np.ndarray, seed: int):
    n = indices.size
    u = np.empty((n, _NU), np.float32)
    tex = np.empty((n, _SIZE, _SIZE), np.float32)
    noise = np.empty((n, 3, _SIZE, _SIZE), np.float32)
    bg = np.empty((n, 3, 6, 6), np.float32)
    for k, idx in enumerate(indices):
        rng = np.random.default_rng([int(seed), int(idx), 0x5F])
        u[k] = rng.random(_NU, dtype=np.float32)
        tex[k] = rng.random((_SIZE, _SIZE), dtype=np.float32)
        noise[k] = rng.standard_normal((3, _SIZE, _SIZE), dtype=np.float32)
        bg[k] = rng.standard_normal((3, 6, 6), dtype=np.float32)
    return u, tex, noise, bg


def _attributes(u: np.ndarray) -> np.ndarray:
    """Attribute labels (n, 5) bool from the uniform draws, with CelebA-like correlations."""
    male = u[:, 0] < 0.42
    young = u[:, 1] < 0.78
    glasses = u[:, 2] < np.where(young, 0.045, 0.14)   # commoner when older
    blond = u[:, 3] < np.where(male, 0.03, 0.237)      # rarer on men
    smiling = u[:, 4] < np.where(male, 0.43, 0.52)
    return np.stack([smiling, glasses, young, male, blond], axis=1)


def _c(v):
    return np.asarray(v, np.float32)[:, None, None]


def _fill(d, w):
    """Soft coverage from a signed distance ``d`` (negative inside), edge width ``w``."""
    return np.clip(0.5 - d / w, 0.0, 1.0)


def _over(img, alpha, color):
    """Composite ``color`` (n, 3) over ``img`` (n, 3, H, W) with coverage ``alpha`` (n, H, W)."""
    a = alpha[:, None]
    img *= 1 - a
    img += a * color[:, :, None, None]


def _ell(x, y, a, b):
    """Approximate signed distance to an axis-aligned ellipse with semi-axes a, b."""
    return (np.sqrt((x / a) ** 2 + (y / b) ** 2) - 1) * np.minimum(a, b)


def _upsample(low: np.ndarray) -> np.ndarray:
    """Bilinear upsampling of (n, c, k, k) to (n, c, H, H) by two matrix products."""
    k = low.shape[-1]
    pos = np.clip((np.arange(_H) + 0.5) / _H * k - 0.5, 0, k - 1)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, k - 1)
    w = (pos - i0).astype(np.float32)
    m = np.zeros((_H, k), np.float32)
    m[np.arange(_H), i0] += 1 - w
    m[np.arange(_H), i1] += w
    return np.einsum("hk,nckl,wl->nchw", m, low, m, optimize=True)


def _pool(a: np.ndarray) -> np.ndarray:
    s = a.shape
    return a.reshape(*s[:-2], _SIZE, _SS, _SIZE, _SS).mean(axis=(-3, -1))


def _force(labels: np.ndarray, force: dict | None) -> np.ndarray:
    for name, value in (force or {}).items():
        if name not in ATTRIBUTES:
            raise XaiprobeError(f"attribute {name!r}: not a SynthFaces attribute; use one of {', '.join(ATTRIBUTES)}")
        if value not in (0, 1, True, False):
            raise XaiprobeError(f"attribute value {value!r} for {name}: must be 0 or 1")
        labels[:, ATTRIBUTES.index(name)] = bool(value)
    return labels


def _render_batch(indices: np.ndarray, seed: int, force: dict | None, want_masks: bool):
    u, tex, noise, bg = _draws(indices, seed)
    lab = _force(_attributes(u), force)
    smiling, glasses, young, male, blond = (lab[:, i] for i in range(5))
    n = indices.size
    ff = lambda v: np.asarray(v, np.float32)  # noqa: E731

    # pose: horizontal/vertical offset, scale, in-plane rotation, yaw-ish feature shift
    cx, cy = _c((u[:, 5] - 0.5) * 0.26), _c(0.04 + (u[:, 6] - 0.5) * 0.12)
    s = _c(1.02 + 0.26 * u[:, 7])
    th = (u[:, 8] - 0.5) * 0.42
    cos, sin = _c(np.cos(th)), _c(np.sin(th))
    x = (cos * (_GX - cx) + sin * (_GY - cy)) / s
    y = (-sin * (_GX - cx) + cos * (_GY - cy)) / s
    px = 2.0 / _H / s  # one (rendering) pixel in face units
    yaw = _c((u[:, 9] - 0.5) * 2)
    fx = x - 0.07 * yaw  # features slide with the head turn

    # colours
    t = u[:, 10:11]
    skin = (1 - t) * ff([0.96, 0.80, 0.68]) + t * ff([0.45, 0.30, 0.21])
    skin = skin * (1 + (u[:, 11:12] - 0.5) * ff([0.10, 0.0, -0.10]))
    hair = _HAIR[np.minimum((u[:, 12] * len(_HAIR)).astype(int), len(_HAIR) - 1)]
    bl = _BLOND[0] * (1 - u[:, 13:14]) + _BLOND[1] * u[:, 13:14]
    hair = np.where(blond[:, None], bl, hair)
    # greying: most older faces, in strands; a few young ones have ash tones
    grey = np.where(young, (u[:, 14] < 0.3) * (0.1 + 0.35 * u[:, 56]),
                    np.where(u[:, 14] < 0.6, 0.25 + 0.5 * u[:, 56], 0.0))
    greyc = ff([0.68, 0.67, 0.66])
    bgc = 0.2 + 0.65 * u[:, 39:42]
    bgc = bgc * 0.55 + bgc.mean(1, keepdims=True) * 0.45  # muted
    shirt = 0.1 + 0.8 * u[:, 53:56]

    img = np.empty((n, 3, _H, _H), np.float32)
    img[:] = bgc[:, :, None, None]
    # background texture: smooth blotches + stripes
    img += _upsample(bg) * _c(0.03 + 0.10 * u[:, 42])[:, None]
    ang = u[:, 44] * np.pi
    stripes = np.sin((_c(np.cos(ang)) * _GX + _c(np.sin(ang)) * _GY) * _c(6 + 20 * u[:, 43]))
    img += (stripes * _c(0.08 * (u[:, 45] > 0.5) * u[:, 45]))[:, None]

    # geometry of the head
    a = _c(0.37 + 0.05 * u[:, 51] + 0.025 * male)
    b = _c(0.50 + 0.05 * u[:, 52])
    taper = _c(np.where(male, 0.08 + 0.10 * u[:, 50], 0.28 + 0.12 * u[:, 50]))
    fcx = 0.025 * yaw
    aw = a * np.where(y > 0, 1 - taper * np.clip(y / b, 0, 1) ** 2, 1.0)
    d_face = _ell(x - fcx, y, aw, b)
    long_hair = u[:, 15] < np.where(male, 0.10, 0.85)
    hl = _c(0.30 + 0.5 * u[:, 16])
    vol = _c(1.05 + 0.25 * u[:, 17])

    # shirt + neck
    _over(img, _fill(np.maximum(np.abs(x) - 0.55, 0.62 - y), px) * (y > 0), shirt)
    _over(img, _fill(np.maximum(np.abs(x) - 0.17, 0.25 - y), px), skin * 0.82)
    # long hair behind the head
    d_back = np.minimum(_ell(x, y + 0.05, a * 1.22 * vol, b * 1.15),
                        np.maximum(np.abs(x) - a * 1.22 * vol, np.maximum(-0.05 - y, y - hl)))
    a_back = _fill(d_back, px) * _c(long_hair)
    strands = 1 + 0.07 * np.sin(x * 55 + 3 * np.sin(y * 7)) * _c(0.5 + u[:, 19])
    gmix = np.clip(_c(grey) * (0.6 + 0.8 * (0.5 + 0.5 * np.sin(x * 55 + 4 * np.sin(y * 9) + _c(u[:, 57]) * 6))), 0, 1)
    hair_img = (hair[:, :, None, None] * strands[:, None]) * (1 - gmix[:, None]) + greyc[None, :, None, None] * gmix[:, None]
    hair = hair * (1 - 0.5 * grey[:, None]) + greyc * 0.5 * grey[:, None]  # brows, stubble
    a3 = a_back[:, None]
    img *= 1 - a3
    img += a3 * hair_img
    # ears, face
    for sgn in (-1, 1):
        _over(img, _fill(_ell(x - fcx - sgn * a * 0.98, y + 0.02, 0.06, 0.10), px), skin * 0.9)
    a_face = _fill(d_face, px)
    shade = 1 - 0.18 * np.clip((np.sqrt(((x - fcx) / aw) ** 2 + (y / b) ** 2)), 0, 1) ** 3
    old = _c(~young)
    # skin texture: mottled for older faces
    mott = np.repeat(np.repeat(tex, _SS, 1), _SS, 2)
    shade = shade * (1 - old * 0.10 * (mott - 0.5))
    a3 = a_face[:, None]
    img *= 1 - a3
    img += a3 * (skin[:, :, None, None] * shade[:, None])

    es = _c(0.15 + 0.035 * u[:, 23])
    ey = -0.05
    # wrinkles: forehead lines, crow's feet, nasolabial folds, under-eye lines
    wk = _c(np.where(young, 0.0, 0.55 + 0.4 * u[:, 34]))
    lw = np.maximum(px * 1.3, 0.016)
    wr = np.zeros_like(x)
    for k, yy in enumerate((-0.27, -0.33, -0.39)):
        band = np.abs(y - yy - 0.012 * np.sin(fx * 14 + k)) - lw / 2
        wr = np.maximum(wr, _fill(np.maximum(band, np.abs(fx) - 0.20 + 0.04 * k), px))
    for sgn in (-1, 1):
        tt = np.clip((y - 0.10) / 0.20, 0, 1)
        fold = np.abs(sgn * fx - (0.085 + 0.075 * tt)) - lw / 2
        wr = np.maximum(wr, _fill(np.maximum(fold, np.abs(y - 0.20) - 0.10), px))
        for dy in (-0.03, 0.0, 0.03):
            cf = np.abs((y - ey - dy) - dy * 2.5 * (sgn * fx - es - 0.09) / 0.06) - lw / 2
            wr = np.maximum(wr, _fill(np.maximum(cf, np.abs(sgn * fx - es - 0.12) - 0.035), px))
        ue = np.abs(y - (ey + 0.07) - 0.25 * (sgn * fx - es) ** 2) - lw / 2
        wr = np.maximum(wr, _fill(np.maximum(ue, np.abs(sgn * fx - es) - 0.06), px))
    _over(img, wr * wk * a_face * 0.6, skin * 0.4)

    # stubble
    stub = male & (u[:, 32] < 0.45)
    a_stub = (y > 0.14) * a_face * (mott < _c(0.35 + 0.35 * u[:, 33])) * _c(stub) * 0.45
    _over(img, a_stub, hair * 0.6 + 0.05)

    # eyebrows
    bt = _c(np.where(male, 0.042 + 0.016 * u[:, 24], 0.020 + 0.010 * u[:, 24]))
    for sgn in (-1, 1):
        tt = (sgn * fx - es) / 0.085
        yc = ey - 0.11 - (0.02 + 0.02 * _c(u[:, 25])) * (1 - np.clip(tt, -1, 1) ** 2)
        d = np.maximum(np.abs(y - yc) - bt / 2, np.abs(tt) * 0.085 - 0.085)
        _over(img, _fill(d, px), hair * 0.7 + 0.02)
    # eyes
    esz = _c(0.85 + 0.25 * u[:, 22])
    iris = _IRIS[np.minimum((u[:, 21] * 3).astype(int), 2)]
    a_eyes = np.zeros_like(x)
    for sgn in (-1, 1):
        ew = 0.072 * esz * (1 + sgn * 0.12 * yaw)
        ex = fx - sgn * es
        d = _ell(ex, y - ey, ew, 0.034 * esz)
        _over(img, _fill(d, px), np.full((n, 3), 0.93, np.float32))
        _over(img, _fill(_ell(ex, y - ey, 0.030 * esz, 0.030 * esz), px) * _fill(d, px), iris)
        _over(img, _fill(_ell(ex, y - ey, 0.013 * esz, 0.013 * esz), px), np.zeros((n, 3), np.float32))
        lid = np.maximum(np.abs(d) - px * 0.8, -(ey - y))
        _over(img, _fill(lid, px) * 0.8, skin * 0.35)
        a_eyes = np.maximum(a_eyes, _fill(_ell(ex, y - ey, ew * 1.5, 0.034 * esz * 2.2), px))
    # nose
    nlen = _c(0.15 + 0.04 * u[:, 26])
    _over(img, _fill(np.maximum(np.abs(fx - 0.02 * yaw - 0.03) - 0.008, np.abs(y - nlen / 2) - nlen / 2), px) * 0.35, skin * 0.6)
    for sgn in (-1, 1):
        _over(img, _fill(_ell(fx - sgn * 0.033, y - nlen - 0.01, 0.016, 0.009), px) * 0.8, skin * 0.45)

    # mouth: the smile is a small upward curve of the corners (plus sometimes teeth)
    mw = _c(0.12 + 0.04 * u[:, 27] + 0.02 * smiling)
    my = nlen + _c(0.12 + 0.04 * u[:, 28])
    mth = _c(0.026 + 0.014 * u[:, 29])
    lift = _c(np.where(smiling, 0.06 + 0.04 * u[:, 30], -0.03 + 0.035 * u[:, 30]))
    tt = np.clip(fx / mw, -1, 1)
    yc = my - lift * tt ** 2
    teeth = smiling & (u[:, 31] < 0.5)
    opn = _c(0.045 * teeth) * (1 - tt ** 2)
    d_in = np.maximum(np.maximum(yc - y, y - yc - opn), np.abs(fx) - mw)
    _over(img, _fill(d_in, px) * _c(teeth), np.full((n, 3), 0.92, np.float32))
    lips = skin * 0.45 + ff([0.20, 0.02, 0.03]) * (0.4 + 0.6 * u[:, 36:37] * (~male[:, None]))
    for off in (0, 1):
        d = np.maximum(np.abs(y - yc - off * opn) - mth / 2, np.abs(fx) - mw)
        _over(img, _fill(d, px) * (1.0 if off == 0 else _c(teeth)), lips)

    # hair in front: cap down to a hairline, side locks for long hair
    hline = _c(np.where(male, -0.34 - 0.08 * (~young) * u[:, 20], -0.30 + 0.06 * u[:, 18]))
    hline = hline + 0.22 * (np.abs(fx) / a) ** 2 + 0.04 * np.sin(fx * 9 + _c(u[:, 19]) * 6) * _c(~male)
    d_cap = np.maximum(_ell(x - fcx, y + 0.04, a * 1.07 * vol, b * 1.04 * (vol * 0.5 + 0.5)), y - hline)
    a_cap = _fill(d_cap, px)
    side = np.maximum(np.maximum(a * 0.80 - np.abs(x - fcx), y - hl * 0.7), _ell(x, y + 0.05, a * 1.22 * vol, b * 1.15))
    a_cap = np.maximum(a_cap, _fill(side, px) * _c(long_hair))
    a3 = a_cap[:, None]
    img *= 1 - a3
    img += a3 * hair_img * 1.05

    # glasses: two rims, a bridge and temple arms
    gr = _c(1.0 + 0.2 * u[:, 37])
    gth = _c(0.018 + 0.014 * u[:, 35])
    frame = _FRAME[np.minimum((u[:, 36] * 4).astype(int), 3)]
    d_rims, d_reg = [], []
    for sgn in (-1, 1):
        ex = fx - sgn * es
        d_l = _ell(ex, y - ey, 0.12 * gr, 0.085 * gr)
        d_rims.append(np.abs(d_l) - gth / 2)
        d_reg.append(d_l - gth)
    bridge = np.maximum(np.abs(y - ey + 0.02) - gth / 2, np.abs(fx) - es + 0.11 * gr)
    temple = np.maximum(np.abs(y - ey + 0.01) - gth / 2, np.maximum(es + 0.11 * gr - np.abs(fx), np.abs(x - fcx) - a))
    d_gl = np.minimum(np.minimum(*d_rims), np.minimum(bridge, temple))
    a_lens = _fill(np.minimum(*d_reg), px)
    gon = _c(glasses)
    _over(img, a_lens * gon * 0.18 * _c(u[:, 38]), np.full((n, 3), 0.85, np.float32))
    _over(img, _fill(d_gl, px) * gon, frame)

    # lighting gradient and global exposure
    la = u[:, 46] * 2 * np.pi
    light = 1 + _c(0.35 * u[:, 47]) * (_c(np.cos(la)) * _GX + _c(np.sin(la)) * _GY)
    img *= (light * _c(0.85 + 0.3 * u[:, 48]))[:, None]

    out = _pool(img) + noise * (0.01 + 0.04 * u[:, 49])[:, None, None, None]
    pixels = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    labels = lab.astype(np.int8)
    if not want_masks:
        return pixels, labels, None
    mouth = np.maximum(np.abs(fx) - mw - 0.05, np.maximum(my - 0.10 - y, y - my - 0.08)) < 0
    reg_gl = np.minimum(np.minimum(*d_reg), np.minimum(bridge, temple) - gth) < px
    masks = {
        "mouth": _pool(mouth.astype(np.float32)) > 0.25,
        "glasses": _pool(reg_gl.astype(np.float32)) > 0.25,
        "hair": _pool(np.maximum(a_back, a_cap)) > 0.5,
        "face": _pool(a_face) > 0.5,
        "eyes": _pool(a_eyes) > 0.25,
    }
    return pixels, labels, masks


def render_synthfaces(indices, seed: int = 0, masks: bool = True, batch_size: int = 128, force: dict | None = None):
    """Render SynthFaces.

    Parameters
    ----------
    indices : int or array-like of int, shape (n,)
        Face numbers (an int ``n`` means ``range(n)``).
    seed : int
    masks : bool
        Also return the region masks.

    Returns
    -------
    pixels : ndarray of uint8, shape (n, 3, 64, 64)
    labels : ndarray of int8, shape (n, 5)
        Columns in ``ATTRIBUTES`` order.
    masks : dict of str -> ndarray of bool, shape (n, 64, 64), or None
        Regions "mouth", "glasses", "hair", "face", "eyes".
    """
    idx = np.arange(indices, dtype=np.int64) if np.isscalar(indices) else np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and idx.min() < 0:
        raise XaiprobeError(f"SynthFaces indices: must be >= 0, got {int(idx.min())}")
    if int(seed) < 0:
        raise XaiprobeError(f"SynthFaces seed {seed}: must be >= 0")
    pix = np.empty((idx.size, 3, _SIZE, _SIZE), np.uint8)
    lab = np.empty((idx.size, len(ATTRIBUTES)), np.int8)
    mks = {r: np.empty((idx.size, _SIZE, _SIZE), bool) for r in REGIONS} if masks else None
    for start in range(0, idx.size, batch_size):
        sl = slice(start, start + batch_size)
        p, lb, m = _render_batch(idx[sl], seed, force, masks)
        pix[sl], lab[sl] = p, lb
        if masks:
            for r in REGIONS:
                mks[r][sl] = m[r]
    return pix, lab, mks


def render_counterfactual(index: int, attribute: str, value: int, seed: int = 0) -> np.ndarray:
    """The face ``index`` with ``attribute`` forced to ``value``, all else identical.

    Returns
    -------
    pixels : ndarray of uint8, shape (1, 3, 64, 64)
    """
    if attribute not in ATTRIBUTES:
        raise XaiprobeError(f"attribute {attribute!r}: not a SynthFaces attribute; use one of {', '.join(ATTRIBUTES)}")
    pix, _, _ = render_synthfaces([int(index)], seed=seed, masks=False, force={attribute: value})
    return pix


def synth_split(n: int) -> np.ndarray:
    """Deterministic 80/10/10 split by position: i % 10 == 8 -> val, == 9 -> test."""
    r = np.arange(n) % 10
    return np.where(r == 9, 2, np.where(r == 8, 1, 0)).astype(np.uint8)


def _cache_file(cache_dir, n: int, seed: int):
    from pathlib import Path
    return Path(cache_dir) / f"synthfaces_v{RENDER_VERSION}_n{n}_s{seed}.npz"


def load_synthfaces(n: int = 8000, seed: int = 0, cache_dir=None, spec: str | None = None, cache: bool = True):
    """SynthFaces as an ImageSet, rendered once and cached on disk.

    Parameters
    ----------
    n : int
        Number of faces (indices 0..n-1).
    seed : int
    cache_dir : str or Path, optional
        Default: env ``XAIPROBE_CACHE`` or ``~/.cache/xaiprobe``. The cache file is keyed by
        (n, seed, renderer version) and written atomically.
    cache : bool
        False renders in memory without touching the disk.

    Returns
    -------
    ImageSet
        pixels uint8 (n, 3, 64, 64), labels int8 (n, 5), split 80/10/10 by position, masks
        rendered on demand.
    """
    import logging

    from .base import ImageSet

    if int(n) < 1:
        raise XaiprobeError(f"SynthFaces size {n}: must be at least 1")
    n, seed = int(n), int(seed)
    spec = spec or f"synthfaces:{n}:{seed}"
    pixels = labels = None
    path = None
    if cache:
        from .registry import default_cache_dir
        from .._utils.io import atomic_path
        from .store import default_mode

        path = _cache_file(cache_dir or default_cache_dir(), n, seed)
        if path.exists():
            try:
                with np.load(path, allow_pickle=False) as z:
                    pixels, labels = z["pixels"], z["labels"]
                if pixels.shape != (n, 3, _SIZE, _SIZE) or labels.shape != (n, len(ATTRIBUTES)):
                    pixels = labels = None
            except (OSError, ValueError, KeyError):
                pixels = labels = None
            if pixels is None:
                logging.getLogger(__name__).warning("SynthFaces cache %s is unreadable; rendering again", path)
    if pixels is None:
        logging.getLogger(__name__).info("rendering %d SynthFaces (seed %d)", n, seed)
        pixels, labels, _ = render_synthfaces(n, seed=seed, masks=False)
        if path is not None:
            try:
                with atomic_path(path, suffix=".npz") as tmp:
                    with open(tmp, "wb") as fh:
                        np.savez(fh, pixels=pixels, labels=labels)
                    default_mode(tmp)
            except (OSError, XaiprobeError) as exc:
                logging.getLogger(__name__).warning("could not cache SynthFaces to %s (%s)", path, exc)
    index = np.arange(n, dtype=np.int64)

    def masks(rows, _index=index, _seed=seed):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        return render_synthfaces(_index[rows], seed=_seed, masks=True)[2]

    return ImageSet(pixels, labels, list(ATTRIBUTES), synth_split(n), spec, "multilabel", index, masks,
                    {"source": "synthfaces", "n": n, "seed": seed, "render_version": RENDER_VERSION})

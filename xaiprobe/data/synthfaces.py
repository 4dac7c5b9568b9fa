"""SynthFaces: procedural 64x64 RGB faces rendered deterministically from (seed, index).

Every face is drawn from its own random stream ``default_rng([seed, index, ...])``, so a face
does not depend on which other faces are rendered with it. Fifteen attributes with CelebA's
names follow CelebA's rates and some of its dependencies (beards only on men, lipstick mostly on
women, grey hair mostly on older faces, one hair colour at most, a hat hides most of the hair).
The cues are local: Smiling, the mouth's corners curve up; Mouth_Slightly_Open, a dark gap
between the lips (teeth when smiling); Young, no wrinkle lines or mottled skin (older faces grey
in strands, partly and not always); Eyeglasses, frames; Male, jaw, short hair, thick brows,
stubble; hair colour (Blond, Black, Brown, Gray; others auburn/red and unnamed, as in CelebA);
Bangs, a fringe over the forehead; Wavy_Hair, wavy strands and outline; Wearing_Hat, a hat over
the crown; No_Beard=0, a full beard or goatee; Wearing_Lipstick, saturated lip colour; Pale_Skin,
a pale low-chroma skin tone. Pose, scale, rotation, skin, background, lighting and pixel noise
vary, so raw pixels are a poor linear feature for Smiling, Young and several others.

Rendering is vectorized numpy over a batch: every shape is a signed-distance field over the
pixel grid, and its coverage ramps over one pixel (analytic anti-aliasing), so the picture is
drawn directly at 64x64 (``_SS = 2`` would supersample 2x and average-pool instead, at 4x the cost).
"""
from __future__ import annotations

import numpy as np

from .._utils.errors import XaiprobeError

#: bump when the pictures change (keys the on-disk cache)
RENDER_VERSION = 3
#: every attribute, in label-column order (the first five are the original, default set)
ATTRIBUTES = ["Smiling", "Eyeglasses", "Young", "Male", "Blond_Hair", "Black_Hair", "Brown_Hair", "Gray_Hair",
              "Bangs", "Wavy_Hair", "Wearing_Hat", "No_Beard", "Mouth_Slightly_Open", "Wearing_Lipstick", "Pale_Skin"]
#: the attribute set every command uses unless told otherwise
DEFAULT_ATTRIBUTES = ["Smiling", "Eyeglasses", "Young", "Male", "Blond_Hair"]
HAIR_COLORS = ["Blond_Hair", "Black_Hair", "Brown_Hair", "Gray_Hair"]
#: attribute -> the region (a key of the masks) that its cue is drawn in
CONCEPT_REGIONS = {"Smiling": "mouth", "Eyeglasses": "glasses", "Blond_Hair": "hair", "Black_Hair": "hair",
                   "Brown_Hair": "hair", "Gray_Hair": "hair", "Wavy_Hair": "hair", "Bangs": "bangs",
                   "Wearing_Hat": "hat", "No_Beard": "beard", "Mouth_Slightly_Open": "mouth",
                   "Wearing_Lipstick": "lips", "Pale_Skin": "skin"}
REGIONS = ["mouth", "glasses", "hair", "face", "eyes", "lips", "bangs", "hat", "beard", "skin"]
#: CelebA's rates (what the label draws aim at)
CELEBA_RATES = {"Smiling": 0.48, "Eyeglasses": 0.065, "Young": 0.77, "Male": 0.42, "Blond_Hair": 0.15,
                "Black_Hair": 0.24, "Brown_Hair": 0.21, "Gray_Hair": 0.04, "Bangs": 0.15, "Wavy_Hair": 0.32,
                "Wearing_Hat": 0.05, "No_Beard": 0.83, "Mouth_Slightly_Open": 0.48, "Wearing_Lipstick": 0.47,
                "Pale_Skin": 0.04}

_SIZE = 64
_SS = 1
_H = _SIZE * _SS
_NU = 64  # uniform draws per face (first block; a second block of _NU2 follows the noise draws)
_NU2 = 32
_g = (np.arange(_H, dtype=np.float32) + 0.5) / _H * 2 - 1
_GY, _GX = np.meshgrid(_g, _g, indexing="ij")
_GX, _GY = _GX[None], _GY[None]

# hair colour categories: 0 blond, 1 black, 2 brown, 3 gray, 4 none of the named (auburn, red, ginger)
_BLOND = np.array([[0.93, 0.80, 0.48], [0.84, 0.68, 0.36]], np.float32)
_BLACK = np.array([[0.05, 0.04, 0.04], [0.11, 0.09, 0.08]], np.float32)
_BROWN = np.array([[0.27, 0.16, 0.09], [0.40, 0.26, 0.15]], np.float32)
_GRAY = np.array([[0.60, 0.60, 0.61], [0.86, 0.85, 0.83]], np.float32)
_OTHER = np.array([[0.36, 0.13, 0.07], [0.62, 0.30, 0.13]], np.float32)
_PALETTES = (_BLOND, _BLACK, _BROWN, _GRAY, _OTHER)
_IRIS = np.array([[0.30, 0.18, 0.08], [0.15, 0.30, 0.55], [0.25, 0.35, 0.20]], np.float32)
_FRAME = np.array([[0.05, 0.05, 0.05], [0.35, 0.20, 0.10], [0.55, 0.55, 0.58], [0.50, 0.08, 0.10]], np.float32)
_LIPSTICK = np.array([[0.74, 0.07, 0.12], [0.55, 0.03, 0.12], [0.86, 0.30, 0.42], [0.52, 0.08, 0.28]], np.float32)


def _draws(indices: np.ndarray, seed: int):
    n = indices.size
    u = np.empty((n, _NU + _NU2), np.float32)
    tex = np.empty((n, _SIZE, _SIZE), np.float32)
    noise = np.empty((n, 3, _SIZE, _SIZE), np.float32)
    bg = np.empty((n, 3, 6, 6), np.float32)
    for k, idx in enumerate(indices):
        rng = np.random.default_rng([int(seed), int(idx), 0x5F])
        u[k, :_NU] = rng.random(_NU, dtype=np.float32)
        tex[k] = rng.random((_SIZE, _SIZE), dtype=np.float32)
        noise[k] = rng.standard_normal((3, _SIZE, _SIZE), dtype=np.float32)
        bg[k] = rng.standard_normal((3, 6, 6), dtype=np.float32)
        u[k, _NU:] = rng.random(_NU2, dtype=np.float32)
    return u, tex, noise, bg


def _check_force(force: dict | None) -> dict:
    f = {}
    for name, value in (force or {}).items():
        if name not in ATTRIBUTES:
            raise XaiprobeError(f"attribute {name!r}: not a SynthFaces attribute; use one of {', '.join(ATTRIBUTES)}")
        if value not in (0, 1, True, False):
            raise XaiprobeError(f"attribute value {value!r} for {name}: must be 0 or 1")
        f[name] = bool(value)
    on = [c for c in HAIR_COLORS if f.get(c)]
    if len(on) > 1:
        raise XaiprobeError(f"attributes {', '.join(on)}: a face has one hair colour at most; force one of them to 1")
    if f.get("No_Beard") is False:  # a beard implies a male face
        if f.get("Male") is False:
            raise XaiprobeError("attributes No_Beard=0 and Male=0: SynthFaces draws beards on male faces only")
        f["Male"] = True
    return f


def _attributes(u: np.ndarray, force: dict | None = None) -> np.ndarray:
    """Attribute labels (n, A) bool in ``ATTRIBUTES`` order from the uniform draws.

    CelebA-like rates and dependencies; a forced value replaces the draw and the attributes that
    depend on it are drawn given the forced value (forcing No_Beard=0 also forces Male=1, forcing
    a hair colour to 1 clears the others, forcing the face's colour to 0 gives it an unnamed one).
    """
    f = _check_force(force)
    n = len(u)

    def pick(name, drawn):
        return np.full(n, f[name]) if name in f else drawn

    male = pick("Male", u[:, 0] < 0.42)
    young = pick("Young", u[:, 1] < 0.78)
    glasses = pick("Eyeglasses", u[:, 2] < np.where(young, 0.045, 0.14))   # commoner when older
    smiling = pick("Smiling", u[:, 4] < np.where(male, 0.43, 0.52))
    # hair colour: blond (rarer on men), else grey (mostly older faces), else black / brown / unnamed
    blond = u[:, 3] < np.where(male, 0.03, 0.237)
    gray = ~blond & (u[:, 65] < np.where(young, 0.006, 0.18))
    cat = np.where(blond, 0, np.where(gray, 3, np.where(u[:, 64] < 0.30, 1, np.where(u[:, 64] < 0.56, 2, 4))))
    for k, c in enumerate(HAIR_COLORS):
        if f.get(c) is False:
            cat = np.where(cat == k, 4, cat)
    for k, c in enumerate(HAIR_COLORS):
        if f.get(c):
            cat = np.full(n, k)
    bangs = pick("Bangs", u[:, 66] < np.where(male, 0.07, 0.21))
    wavy = pick("Wavy_Hair", u[:, 67] < np.where(male, 0.13, 0.45))
    hat = pick("Wearing_Hat", u[:, 68] < 0.05)
    beard = male & (u[:, 69] < 0.40)
    if "No_Beard" in f:
        beard = np.full(n, not f["No_Beard"]) & male
    mouth_open = pick("Mouth_Slightly_Open", u[:, 70] < np.where(smiling, 0.70, 0.27))
    lipstick = pick("Wearing_Lipstick", u[:, 71] < np.where(male, 0.02, 0.78))
    pale = pick("Pale_Skin", u[:, 72] < 0.04)
    return np.stack([smiling, glasses, young, male, cat == 0, cat == 1, cat == 2, cat == 3, bangs, wavy, hat,
                     ~beard, mouth_open, lipstick, pale], axis=1)


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


def _over_img(img, alpha, src):
    """Composite the picture ``src`` (n, 3, H, W) over ``img`` with coverage ``alpha`` (n, H, W)."""
    a = alpha[:, None]
    img *= 1 - a
    img += a * src


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


def _mix(palette, t):
    return palette[0] * (1 - t) + palette[1] * t


def _render_batch(indices: np.ndarray, seed: int, force: dict | None, want_masks: bool):
    u, tex, noise, bg = _draws(indices, seed)
    lab = _attributes(u, force)
    (smiling, glasses, young, male, blond, black, brown, gray_hair, bangs, wavy, hat, no_beard, mouth_open,
     lipstick, pale) = (lab[:, i] for i in range(len(ATTRIBUTES)))
    beard = ~no_beard
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
    t = 0.1 + 0.9 * u[:, 10:11]
    skin = (1 - t) * ff([0.96, 0.80, 0.68]) + t * ff([0.45, 0.30, 0.21])
    skin = skin * (1 + (u[:, 11:12] - 0.5) * ff([0.10, 0.0, -0.10]))
    pale_c = ff([0.99, 0.93, 0.90]) * (1 - 0.05 * u[:, 82:83]) + ff([0.0, 0.0, 0.02]) * u[:, 11:12]
    skin = np.where(pale[:, None], pale_c, skin)
    ht = u[:, 73:74]
    hair = _mix(_OTHER, ht)
    for k, on in enumerate((blond, black, brown, gray_hair)):
        hair = np.where(on[:, None], _mix(_PALETTES[k], ht), hair)
    # greying in strands: many older faces, a few young ones (ash tones); Gray_Hair is grey all over
    grey = np.where(young, (u[:, 14] < 0.3) * (0.1 + 0.35 * u[:, 56]),
                    np.where(u[:, 14] < 0.6, 0.25 + 0.5 * u[:, 56], 0.0))
    grey = np.where(gray_hair | blond, 0.0, grey)
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
    wv = _c(wavy)
    wph = _c(u[:, 80] * 6.3)

    # shirt + neck
    _over(img, _fill(np.maximum(np.abs(x) - 0.55, 0.62 - y), px) * (y > 0), shirt)
    a_neck = _fill(np.maximum(np.abs(x) - 0.17, 0.25 - y), px)
    _over(img, a_neck, skin * 0.82)
    # hair texture: straight strands, or waves across them (Wavy_Hair)
    straight = 0.07 * np.sin(x * 55 + 3 * np.sin(y * 7)) * _c(0.5 + u[:, 19])
    waves = 0.16 * np.sin(y * 34 + 3.0 * np.sin(x * 9 + wph) + wph) + 0.05 * np.sin(x * 55 + 6 * np.sin(y * 17))
    strands = 1 + straight * (1 - wv) + waves * wv
    gmix = np.clip(_c(grey) * (0.6 + 0.8 * (0.5 + 0.5 * np.sin(x * 55 + 4 * np.sin(y * 9) + _c(u[:, 57]) * 6))), 0, 1)
    hair_img = (hair[:, :, None, None] * strands[:, None] + (0.3 * waves * wv)[:, None]) * (1 - gmix[:, None]) \
        + greyc[None, :, None, None] * gmix[:, None]
    hair = hair * (1 - 0.5 * grey[:, None]) + greyc * 0.5 * grey[:, None]  # brows, stubble, beard
    # long hair behind the head (a wavy outline for wavy hair)
    wob = 0.03 * wv * np.sin(y * 26 + wph)
    d_back = np.minimum(_ell(x, y + 0.05, a * 1.22 * vol, b * 1.15),
                        np.maximum(np.abs(x) - a * 1.22 * vol + wob, np.maximum(-0.05 - y, y - hl + wob)))
    a_back = _fill(d_back, px) * _c(long_hair)
    _over_img(img, a_back, hair_img)
    # ears, face
    a_ears = np.zeros_like(x)
    for sgn in (-1, 1):
        ae = _fill(_ell(x - fcx - sgn * a * 0.98, y + 0.02, 0.06, 0.10), px)
        _over(img, ae, skin * 0.9)
        a_ears = np.maximum(a_ears, ae)
    a_face = _fill(d_face, px)
    shade = 1 - 0.18 * np.clip((np.sqrt(((x - fcx) / aw) ** 2 + (y / b) ** 2)), 0, 1) ** 3
    old = _c(~young)
    # skin texture: mottled for older faces
    mott = np.repeat(np.repeat(tex, _SS, 1), _SS, 2)
    shade = shade * (1 - old * 0.10 * (mott - 0.5))
    _over_img(img, a_face, skin[:, :, None, None] * shade[:, None])

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

    nlen = _c(0.15 + 0.04 * u[:, 26])
    mw = _c(0.12 + 0.04 * u[:, 27] + 0.02 * smiling)
    my = nlen + _c(0.12 + 0.04 * u[:, 28])
    # stubble (men without a beard)
    stub = male & (u[:, 32] < 0.45) & ~beard
    a_stub = (y > 0.16) * a_face * (mott < _c(0.30 + 0.30 * u[:, 33])) * _c(stub) * 0.35
    _over(img, a_stub, hair * 0.6 + 0.05)
    # beard: full (cheeks, jaw, chin, moustache) or goatee (chin and moustache)
    ytop = nlen + 0.02 - 0.16 * np.clip(np.abs(fx - fcx) / a, 0, 1)
    d_full = np.maximum(d_face - 0.03, ytop - y)
    goatee = np.minimum(np.maximum(np.maximum(np.abs(fx) - 0.085, my + 0.03 - y), d_face - 0.025),
                        np.maximum(np.abs(fx) - mw - 0.01, np.abs(y - (my - 0.04)) - 0.022))
    d_beard = np.where(_c(u[:, 78] < 0.6), d_full, goatee)
    a_beard = _fill(d_beard, px) * _c(beard)
    btex = 0.8 + 0.35 * (mott - 0.5)
    _over_img(img, a_beard * 0.95, (hair * 0.85)[:, :, None, None] * btex[:, None] + 0.02)

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
    _over(img, _fill(np.maximum(np.abs(fx - 0.02 * yaw - 0.03) - 0.008, np.abs(y - nlen / 2) - nlen / 2), px) * 0.35, skin * 0.6)
    for sgn in (-1, 1):
        _over(img, _fill(_ell(fx - sgn * 0.033, y - nlen - 0.01, 0.016, 0.009), px) * 0.8, skin * 0.45)

    # mouth: the smile is a small upward curve of the corners; an open mouth shows a dark gap
    # (with upper teeth on most open smiles); lipstick is a saturated lip colour
    mth = _c((0.026 + 0.014 * u[:, 29]) * (1 + 0.2 * lipstick))
    lift = _c(np.where(smiling, 0.07 + 0.04 * u[:, 30], -0.03 + 0.035 * u[:, 30]))
    tt = np.clip(fx / mw, -1, 1)
    yc = my - lift * tt ** 2
    opn = _c(mouth_open * (0.05 + 0.03 * u[:, 83])) * (1 - tt ** 2)
    teeth = mouth_open & np.where(smiling, u[:, 31] < 0.85, u[:, 84] < 0.1)
    d_in = np.maximum(np.maximum(yc - y, y - yc - opn), np.abs(fx) - mw)
    _over(img, _fill(d_in, px) * _c(mouth_open), ff([0.20, 0.06, 0.07]) * (0.6 + 0.4 * skin))
    d_teeth = np.maximum(np.maximum(yc - y, y - yc - opn * 0.55), np.abs(fx) - mw * 0.8)
    _over(img, _fill(d_teeth, px) * _c(teeth), np.full((n, 3), 0.92, np.float32))
    natural = skin * ff([0.78, 0.58, 0.58]) + ff([0.06, 0.0, 0.0]) * u[:, 36:37]
    lt = u[:, 79] * (len(_LIPSTICK) - 1)
    li = np.minimum(lt.astype(int), len(_LIPSTICK) - 2)
    lf = (lt - li)[:, None]
    lips = np.where(lipstick[:, None], _LIPSTICK[li] * (1 - lf) + _LIPSTICK[li + 1] * lf, natural)
    a_lips = np.zeros_like(x)
    for off in (0, 1):
        d = np.maximum(np.abs(y - yc - off * opn) - mth / 2, np.abs(fx) - mw)
        al = _fill(d, px)
        _over(img, al, lips)
        a_lips = np.maximum(a_lips, al)

    # hair in front: cap down to a hairline, a fringe (Bangs), side locks for long hair
    hline = _c(np.where(male, -0.34 - 0.08 * (~young) * u[:, 20], -0.33 + 0.06 * u[:, 18]))
    hline = hline + 0.22 * (np.abs(fx) / a) ** 2 + 0.04 * np.sin(fx * 9 + _c(u[:, 19]) * 6) * _c(~male)
    e_cap = _ell(x - fcx, y + 0.04, a * 1.07 * vol, b * 1.04 * (vol * 0.5 + 0.5))
    d_cap = np.maximum(e_cap, y - hline)
    ybang = ey - 0.12 - 0.045 * _c(u[:, 81]) + 0.012 * np.sin(fx * 45 + wph) + 0.05 * (np.abs(fx - fcx) / a) ** 2
    d_bangs = np.maximum(np.maximum(e_cap, y - ybang), np.abs(x - fcx) - a * 0.95)
    a_cap = np.maximum(_fill(d_cap, px), _fill(d_bangs, px) * _c(bangs))
    side = np.maximum(np.maximum(a * 0.80 - np.abs(x - fcx), y - hl * 0.7 + wob), _ell(x, y + 0.05, a * 1.22 * vol, b * 1.15))
    a_cap = np.maximum(a_cap, _fill(side, px) * _c(long_hair))
    _over_img(img, a_cap, hair_img * 1.05)

    # hat: a crown over the top of the head and a brim, hiding most of the hair
    hy = _c(-0.28 - 0.06 * u[:, 77])
    d_crown = np.maximum(_ell(x - fcx, y + 0.08, a * 1.12 * vol, b * 1.06 * (vol * 0.5 + 0.5)), y - hy)
    d_brim = np.maximum(np.abs(y - hy) - _c(0.025 + 0.02 * u[:, 77]), np.abs(x - fcx) - a * _c(1.25 + 0.25 * u[:, 76]))
    d_hat = np.minimum(d_crown, d_brim)
    hatc = 0.08 + 0.75 * u[:, 74:77]
    hatc = hatc * 0.7 + hatc.mean(1, keepdims=True) * 0.3
    hat_img = hatc[:, :, None, None] * (1 - 0.25 * _fill(np.abs(y - hy + 0.06) - 0.02, px))[:, None]
    hat_img = hat_img * (1 - 0.15 * _fill(-d_brim, px))[:, None]
    a_hat = _fill(d_hat, px)
    _over_img(img, a_hat * _c(hat), hat_img)

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
    mouth = np.maximum(np.abs(fx) - mw - 0.05, np.maximum(my - 0.10 - y, y - my - 0.12)) < 0
    reg_gl = np.minimum(np.minimum(*d_reg), np.minimum(bridge, temple) - gth) < px
    no_hat = 1 - a_hat * _c(hat)
    bang_zone = np.maximum(np.maximum(e_cap, y - ybang - 0.02), np.maximum(np.abs(x - fcx) - a * 0.95, hline - 0.03 - y))
    d_full_zone = np.maximum(d_face - 0.03, ytop - 0.02 - y)
    masks = {
        "mouth": _pool(mouth.astype(np.float32)) > 0.25,
        "glasses": _pool(reg_gl.astype(np.float32)) > 0.25,
        "hair": _pool(np.maximum(a_back, a_cap) * no_hat) > 0.25,
        "face": _pool(a_face) > 0.5,
        "eyes": _pool(a_eyes) > 0.25,
        "lips": _pool(np.maximum(_fill(d_in - 0.03, px), _fill(np.maximum(np.abs(y - yc - 0.5 * opn) - mth / 2 - 0.03 - 0.5 * opn,
                                                                           np.abs(fx) - mw - 0.03), px))) > 0.25,
        "bangs": _pool(_fill(bang_zone, px) * no_hat) > 0.25,
        "hat": _pool(a_hat) > 0.25,
        "beard": _pool(_fill(d_full_zone - 0.02, px)) > 0.25,
        "skin": _pool(np.maximum(np.maximum(a_face, a_ears), a_neck)) > 0.5,
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
    force : dict of str -> {0, 1}, optional
        Attributes to force on every face (see :func:`render_counterfactual`).

    Returns
    -------
    pixels : ndarray of uint8, shape (n, 3, 64, 64)
    labels : ndarray of int8, shape (n, A)
        Columns in ``ATTRIBUTES`` order.
    masks : dict of str -> ndarray of bool, shape (n, 64, 64), or None
        The regions in ``REGIONS``.
    """
    idx = np.arange(indices, dtype=np.int64) if np.isscalar(indices) else np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and idx.min() < 0:
        raise XaiprobeError(f"SynthFaces indices: must be >= 0, got {int(idx.min())}")
    if int(seed) < 0:
        raise XaiprobeError(f"SynthFaces seed {seed}: must be >= 0")
    _check_force(force)
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
    """The face ``index`` with ``attribute`` forced to ``value``, all else drawn as before.

    Attributes that depend on the forced one are drawn given it (CelebA's dependencies):
    forcing No_Beard=0 on a female face also makes it male (SynthFaces has beards on male faces
    only), forcing Male=0 removes a beard, forcing a hair colour to 1 replaces the face's colour,
    forcing its own colour to 0 gives it an unnamed one (auburn/red), forcing Smiling changes how
    likely the mouth is open, Young how likely the hair is grey, Male how likely lipstick is.

    Returns
    -------
    pixels : ndarray of uint8, shape (1, 3, 64, 64)
    """
    if attribute not in ATTRIBUTES:
        raise XaiprobeError(f"attribute {attribute!r}: not a SynthFaces attribute; use one of {', '.join(ATTRIBUTES)}")
    pix, _, _ = render_synthfaces([int(index)], seed=seed, masks=False, force={attribute: value})
    return pix


def synth_split(n: int) -> np.ndarray:
    """Deterministic 80/10/10 split by position: i % 10 == 8 -> val, == 9 -> test.

    Face i's split does not depend on ``n``.
    """
    r = np.arange(n) % 10
    return np.where(r == 9, 2, np.where(r == 8, 1, 0)).astype(np.uint8)


def select_attributes(attrs) -> list:
    """Attribute names of a SynthFaces read: None -> ``DEFAULT_ATTRIBUTES``, "all" -> ``ATTRIBUTES``."""
    if attrs is None:
        return list(DEFAULT_ATTRIBUTES)
    if isinstance(attrs, str):
        attrs = list(ATTRIBUTES) if attrs == "all" else [a.strip() for a in attrs.split(",") if a.strip()]
    attrs = list(attrs)
    unknown = [a for a in attrs if a not in ATTRIBUTES]
    if unknown or not attrs or len(set(attrs)) != len(attrs):
        what = f"unknown attribute {', '.join(unknown)}" if unknown else "attributes must be distinct and not empty"
        raise XaiprobeError(f"SynthFaces attrs: {what}; use 'all' or names from {', '.join(ATTRIBUTES)}")
    return attrs

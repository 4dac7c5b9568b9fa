"""CelebA's own directory layout: read it, pack it into an image store, write it from SynthFaces.

Layout (``DIR`` or ``DIR/celeba``; the Google Drive ``Img/ Anno/ Eval/`` sub-folders also work)::

    img_align_celeba/000001.jpg ...   178x218 aligned faces
    list_attr_celeba.txt              line 1: count; line 2: the 40 names; then "000001.jpg -1  1 ..."
    list_eval_partition.txt           "000001.jpg 0" (0 train, 1 val, 2 test)

Preprocessing: ``crop="center"`` (the seed's: torchvision center crop to 178x178, resize to
64x64) or ``crop="box"`` (box at x=24, y=59, 128x128, then resize to 64x64).
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, ensure_writable_dir
from .base import ImageSet
from .registry import celeba_spec, default_cache_dir, parse_celeba_spec, register_spec, spec_head
from .store import ImageStoreWriter, default_mode, load_image_store
from .synthfaces import ATTRIBUTES, render_synthfaces, synth_split

log = logging.getLogger(__name__)

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
DEFAULT_ATTRIBUTES = ["Smiling", "Eyeglasses", "Young", "Male", "Blond_Hair"]
CROPS = ("center", "box")
BOX = (24, 59, 24 + 128, 59 + 128)
IMG_DIR, ATTR_FILE, PART_FILE = "img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"


def find_layout(root) -> tuple[Path, Path, Path]:
    """(image dir, attribute file, partition file) of a CelebA directory, or XaiprobeError."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise XaiprobeError(f"CelebA directory {root}: not a directory; point it at the folder holding "
                            f"{IMG_DIR}/, {ATTR_FILE} and {PART_FILE}")
    for base in (root, root / "celeba"):
        img = next((d for d in (base / IMG_DIR, base / "Img" / IMG_DIR) if d.is_dir()), None)
        att = next((f for f in (base / ATTR_FILE, base / "Anno" / ATTR_FILE) if f.is_file()), None)
        par = next((f for f in (base / PART_FILE, base / "Eval" / PART_FILE) if f.is_file()), None)
        if img or att or par:
            missing = [name for name, found in ((IMG_DIR + "/", img), (ATTR_FILE, att), (PART_FILE, par)) if not found]
            if missing:
                raise XaiprobeError(f"CelebA directory {base}: not in CelebA's layout, missing {', '.join(missing)}; "
                                    "download the aligned images and the annotation files into it")
            return img, att, par
    raise XaiprobeError(f"CelebA directory {root}: not in CelebA's layout (no {IMG_DIR}/, {ATTR_FILE}, {PART_FILE}); "
                        "point it at the folder holding them")


def parse_attr_file(path) -> tuple[list, list, np.ndarray]:
    """Read list_attr_celeba.txt -> (file names, attribute names, values int8 (N, A) in {0, 1})."""
    path = Path(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = [ln for ln in fh.read().splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise XaiprobeError(f"attribute file {path}: truncated (needs a count line and a names line); re-download it")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise XaiprobeError(f"attribute file {path}: line 1 {lines[0][:40]!r} is not the image count; "
                            "the file is malformed, re-download it") from None
    names = lines[1].split()
    if not names or len(set(names)) != len(names):
        raise XaiprobeError(f"attribute file {path}: line 2 must list distinct attribute names; re-download it")
    rows = lines[2:]
    files, vals = [], np.empty((len(rows), len(names)), np.int8)
    for k, line in enumerate(rows):
        parts = line.split()
        if len(parts) != len(names) + 1:
            raise XaiprobeError(f"attribute file {path}: line {k + 3} has {len(parts)} columns, expected "
                                f"{len(names) + 1} (file name + {len(names)} values); the file is malformed or cut short")
        try:
            v = [int(t) for t in parts[1:]]
        except ValueError:
            raise XaiprobeError(f"attribute file {path}: line {k + 3} has a non-integer value; values must be -1 or 1") from None
        if any(t not in (-1, 1) for t in v):
            raise XaiprobeError(f"attribute file {path}: line {k + 3} has a value other than -1/1")
        files.append(parts[0])
        vals[k] = v
    if count != len(rows):
        raise XaiprobeError(f"attribute file {path}: line 1 says {count} images but {len(rows)} rows follow; "
                            "the file is truncated or malformed, re-download it")
    if len(set(files)) != len(files):
        raise XaiprobeError(f"attribute file {path}: an image is listed twice; re-download it")
    return files, names, (vals > 0).astype(np.int8)


def parse_partition_file(path, files: list) -> np.ndarray:
    """Read list_eval_partition.txt -> split uint8 aligned to ``files`` (from the attribute file)."""
    path = Path(path)
    part = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for k, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise XaiprobeError(f"partition file {path}: line {k} is not '<image> <0|1|2>'; the file is malformed")
            part[parts[0]] = int(parts[1])
    missing = [f for f in files if f not in part]
    extra = set(part) - set(files)
    if missing or extra:
        what = f"{len(missing)} images have no partition (first {missing[0]})" if missing else \
            f"{len(extra)} entries are not in the attribute file (first {sorted(extra)[0]})"
        raise XaiprobeError(f"partition file {path}: disagrees with the images: {what}; use the partition file "
                            "that belongs to these images")
    return np.array([part[f] for f in files], np.uint8)


def select_attributes(names: list, attrs, attr_file) -> list:
    """Columns of ``attrs`` (default the five) in ``names``; unknown names raise."""
    attrs = list(DEFAULT_ATTRIBUTES if attrs is None else attrs)
    unknown = [a for a in attrs if a not in names]
    if unknown or not attrs:
        raise XaiprobeError(f"attribute file {attr_file}: unknown attribute {', '.join(unknown) or '(none given)'}; "
                            f"it has {', '.join(names)}")
    return [names.index(a) for a in attrs]


def center_crop(im, side: int):
    """Square center crop placed exactly as torchvision's ``CenterCrop(side)`` places it."""
    w, h = im.size
    top, left = int(round((h - side) / 2.0)), int(round((w - side) / 2.0))
    return im.crop((left, top, left + side, top + side))


def preprocess(im, crop: str = "center", size: int = 64) -> np.ndarray:
    """PIL image -> uint8 (3, size, size) with the seed's center crop or the box crop.

    Resizing is PIL bilinear with antialiasing, which is what torchvision's ``Resize``
    does on PIL images (torchvision itself is not imported: it is slow to load).
    """
    from PIL import Image

    im = im.convert("RGB")
    if crop == "center":
        im = center_crop(im, min(178, *im.size))
    elif crop == "box":
        if im.size[0] < BOX[2] or im.size[1] < BOX[3]:
            raise XaiprobeError(f"image of size {im.size}: too small for the box crop {BOX}; use crop=center")
        im = im.crop(BOX)
    else:
        raise XaiprobeError(f"crop {crop!r}: unknown; use center or box")
    im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)


class CelebALayout:
    """A validated CelebA directory: file names, all labels, the official partition."""

    def __init__(self, root, attrs=None, crop: str = "center"):
        if crop not in CROPS:
            raise XaiprobeError(f"crop {crop!r}: unknown; use center or box")
        self.root = Path(root).expanduser()
        self.img_dir, self.attr_file, self.part_file = find_layout(self.root)
        self.files, self.all_names, all_labels = parse_attr_file(self.attr_file)
        cols = select_attributes(self.all_names, attrs, self.attr_file)
        self.names = [self.all_names[c] for c in cols]
        self.labels = all_labels[:, cols]
        self.split = parse_partition_file(self.part_file, self.files)
        present = set(os.listdir(self.img_dir))
        missing = [f for f in self.files if f not in present]
        if missing:
            raise XaiprobeError(f"image directory {self.img_dir}: {len(missing)} images listed in {self.attr_file.name} "
                                f"are missing (first {missing[0]}); complete the download")
        self.crop = crop
        self.attrs = None if attrs is None else list(attrs)

    def __len__(self):
        return len(self.files)

    def decode(self, k: int) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        p = self.img_dir / self.files[k]
        try:
            with Image.open(p) as im:
                return preprocess(im, self.crop)
        except (UnidentifiedImageError, OSError) as exc:
            raise XaiprobeError(f"image {p}: cannot be decoded ({exc}); re-download it") from None

    @property
    def spec(self) -> str:
        return celeba_spec(self.root, self.crop, self.attrs)

    def provenance(self) -> dict:
        return {"source": "celeba", "root": os.fspath(self.root.resolve()), "crop": self.crop,
                "attributes": self.names, "files": len(self.files),
                "attr_file_bytes": self.attr_file.stat().st_size}


def read_celeba(root, attrs=None, crop: str = "center", progress: bool = True):
    """Read a CelebA directory into memory (decodes every JPEG; pack large sets instead).

    Parameters
    ----------
    root : str or Path
    attrs : list of str, optional
        Attribute subset (default Smiling, Eyeglasses, Young, Male, Blond_Hair).
    crop : {"center", "box"}

    Returns
    -------
    ImageSet
        pixels uint8 (N, 3, 64, 64), labels int8 (N, A), official split.
    """
    from tqdm.auto import tqdm

    lay = CelebALayout(root, attrs, crop)
    pixels = np.empty((len(lay), 3, 64, 64), np.uint8)
    for k in tqdm(range(len(lay)), desc="decode CelebA", unit="img", disable=None if progress else True):
        pixels[k] = lay.decode(k)
    return ImageSet(pixels, lay.labels, lay.names, lay.split, lay.spec, "multilabel",
                    np.arange(len(lay), dtype=np.int64), None, {**lay.provenance(), "file_names": lay.files})


def pack_celeba(root, out, attrs=None, crop: str = "center", progress: bool = True, batch: int = 256) -> Path:
    """Decode a CelebA directory once into an HDF5 image store at ``out`` (written atomically).

    Returns
    -------
    Path
        ``out``; load it with :func:`load_image_store` or the spec ``out`` itself.
    """
    from tqdm.auto import tqdm

    lay = CelebALayout(root, attrs, crop)
    out = Path(out)
    if out.suffix not in (".h5", ".hdf5"):
        raise XaiprobeError(f"image store {out}: name must end in .h5 so it can be used as a data spec")
    with ImageStoreWriter(out, len(lay), lay.names, (3, 64, 64), lay.spec, lay.provenance()) as w:
        buf = np.empty((batch, 3, 64, 64), np.uint8)
        for start in tqdm(range(0, len(lay), batch), desc=f"pack {lay.root.name}", unit="batch",
                          disable=None if progress else True):
            stop = min(start + batch, len(lay))
            for k in range(start, stop):
                buf[k - start] = lay.decode(k)
            w.images[start:stop] = buf[:stop - start]
        w.labels[:] = lay.labels
        w.split[:] = lay.split
        w.index[:] = np.arange(len(lay), dtype=np.int64)
    log.info("packed %d CelebA images into %s", len(lay), out)
    return out


def load_celeba_cached(root, crop: str = "center", attrs=None, cache_dir=None):
    """``celeba:DIR`` spec: pack into the cache once (keyed by dir, crop, attrs), then read the store."""
    lay_root = Path(root).expanduser()
    _, attr_file, part_file = find_layout(lay_root)
    st, sp = attr_file.stat(), part_file.stat()
    key = "|".join(map(str, (lay_root.resolve(), crop, attrs, st.st_size, st.st_mtime_ns, sp.st_size, sp.st_mtime_ns)))
    path = Path(cache_dir or default_cache_dir()) / f"celeba_{hashlib.sha1(key.encode()).hexdigest()[:16]}.h5"
    if not path.exists():
        pack_celeba(lay_root, path, attrs=attrs, crop=crop)
    return load_image_store(path, spec=celeba_spec(lay_root, crop, attrs))


def export_celeba_layout(out, n: int, seed: int = 0, progress: bool = True) -> Path:
    """Write ``n`` SynthFaces in CelebA's layout under ``out``.

    Each 64x64 face is upscaled (bicubic) to 178x178 and padded by edge replication to
    178x218 (20 rows above and below), so the seed's center crop + resize recovers it.
    Attributes: every SynthFaces attribute (``ATTRIBUTES``, 15) real 1/-1, the other CelebA attributes -1;
    read them back with ``read_celeba(out, attrs=ATTRIBUTES)`` (the reader's default is the five).
    Partition: SynthFaces' 80/10/10 split. Files are written under temporary names first.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    n, seed = int(n), int(seed)
    if n < 1 or seed < 0:
        raise XaiprobeError(f"SynthFaces export: n must be >= 1 and seed >= 0 (got n={n}, seed={seed})")
    root = ensure_writable_dir(out)
    img_dir = ensure_writable_dir(root / IMG_DIR)
    cols = [CELEBA_ATTRIBUTES.index(a) for a in ATTRIBUTES]
    table = -np.ones((n, len(CELEBA_ATTRIBUTES)), np.int8)
    split = synth_split(n)
    step = 256
    for start in tqdm(range(0, n, step), desc="SynthFaces -> CelebA layout", unit="batch",
                      disable=None if progress else True):
        idx = np.arange(start, min(n, start + step))
        pix, lab, _ = render_synthfaces(idx, seed=seed, masks=False)
        table[np.ix_(idx, cols)] = np.where(lab > 0, 1, -1)
        for k, i in enumerate(idx):
            im = Image.fromarray(pix[k].transpose(1, 2, 0)).resize((178, 178), Image.BICUBIC)
            arr = np.pad(np.asarray(im), ((20, 20), (0, 0), (0, 0)), mode="edge")
            with atomic_path(img_dir / f"{i + 1:06d}.jpg", suffix=".jpg") as tmp:
                Image.fromarray(arr).save(tmp, format="JPEG", quality=95)
                default_mode(tmp)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    with atomic_path(root / ATTR_FILE) as tmp:
        with open(tmp, "w") as fh:
            fh.write(f"{n}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n")
            for name, row in zip(names, table):
                fh.write(name + "".join(f" {v:2d}" for v in row) + "\n")
        default_mode(tmp)
    with atomic_path(root / PART_FILE) as tmp:
        with open(tmp, "w") as fh:
            fh.writelines(f"{name} {s}\n" for name, s in zip(names, split))
        default_mode(tmp)
    return root


def _load_spec(spec: str, cache_dir=None):
    """``celeba:DIR[:crop=center|box][:attrs=A,B]``."""
    directory, crop, attrs = parse_celeba_spec(spec.partition(":")[2], spec)
    return load_celeba_cached(directory, crop=crop, attrs=attrs, cache_dir=cache_dir)


register_spec("celeba", lambda spec: spec_head(spec) == "celeba", _load_spec)

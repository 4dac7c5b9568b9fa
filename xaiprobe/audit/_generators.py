"""The two generators of an audit: loading, adapters, the pair checks and recorded exclusions.

A generator is given as an xaiprobe checkpoint path, a loaded :class:`~xaiprobe.gan.Checkpoint`,
an ``nn.Module`` mapping z (n, nz) to images (n, C, H, W), or a plugin spec
``pkg.module:factory`` / ``path/to/file.py:factory`` (a no-argument callable returning such a
module; the same mechanism as the discriminator plugins of :mod:`xaiprobe.activations.plugin`).
An AE-ACGAN checkpoint's generator, which takes ``(z, labels)``, is used at one fixed label row
(:func:`fixed_label_generator`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .._utils.errors import XaiprobeError

log = logging.getLogger(__name__)

__all__ = ["AuditGenerator", "load_generator", "fixed_label_generator", "recorded_exclusions", "attribute_names_of",
           "check_pair"]


@dataclass
class AuditGenerator:
    """A generator ready for auditing and what is known about it.

    Attributes
    ----------
    module : nn.Module
        z (n, nz) -> images (n, C, H, W) in [-1, 1].
    label : str
        How it is named in the report (file name, plugin spec or class name).
    nz : int
        Latent size.
    image_shape : tuple
        (C, H, W) of its images.
    discriminator : nn.Module or None
        The checkpoint's discriminator (the ``disc`` feature space), when known.
    path : Path or None
        The checkpoint file.
    kind : str
        ``dcgan``, ``aeacgan``, ``plugin`` or ``module``.
    exclusions : list of str
        What the training data excluded, as recorded in the checkpoint (``Eyeglasses``, ``Male=1``).
    """

    module: nn.Module
    label: str
    nz: int
    image_shape: tuple
    discriminator: nn.Module | None = None
    path: Path | None = None
    kind: str = "module"
    exclusions: list = field(default_factory=list)
    sha256: str = ""


def _latent_size(G: nn.Module, what: str) -> int:
    for obj, attr in ((getattr(G, "config", None), "nz"), (G, "nz"), (G, "latent_dim"), (G, "z_dim")):
        v = getattr(obj, attr, None) if obj is not None else None
        if isinstance(v, int) and v > 0:
            return int(v)
    from ..gan.sampling import latent_size

    try:
        return int(latent_size(G))
    except XaiprobeError:
        raise XaiprobeError(f"{what}: cannot tell the generator's latent size; give it an attribute nz "
                            "(or a .config with nz)") from None


class _FixedLabels(nn.Module):
    """z -> G(z, labels) with one label row fixed (used when the AE-ACGAN module lacks its own)."""

    def __init__(self, generator: nn.Module, labels: torch.Tensor):
        super().__init__()
        self.generator = generator
        self.register_buffer("labels", labels.reshape(-1).float())
        self.config = getattr(generator, "config", None)

    def forward(self, z):
        return self.generator(z, self.labels.expand(z.shape[0], -1))


def fixed_label_generator(generator: nn.Module, labels=None) -> nn.Module:
    """A z-only view of a conditional (AE-ACGAN) generator at one fixed label row.

    ``labels`` (A,) in [0, 1]; default the generator's ``default_labels`` (the most common
    label row of its training set). The wrapped generator is shared, not copied.
    """
    if labels is None:
        labels = getattr(generator, "default_labels", None)
    if labels is None:
        cfg = getattr(generator, "config", None)
        n = int(getattr(cfg, "n_attributes", 0) or 0)
        if n < 1:
            raise XaiprobeError("conditional generator: no default_labels and no config.n_attributes; "
                                "pass the label row to audit")
        labels = torch.zeros(n)
    labels = torch.as_tensor(labels, dtype=torch.float32)
    try:
        from ..gan.aeacgan import FixedLabelGenerator

        wrapper = FixedLabelGenerator(generator, labels)
    except (ImportError, AttributeError, TypeError):
        wrapper = _FixedLabels(generator, labels)
    # the wrapper's mode is the generator's, so switching the wrapper's mode and back leaves it as it was
    return wrapper.train(generator.training)


def recorded_exclusions(raw: dict) -> list[str]:
    """What a checkpoint's training data excluded (``["Eyeglasses"]``, ``["Male=1"]``), or [].

    Read from ``data["exclude"]``, ``extra["exclude"]`` or a top-level ``exclude`` (a string,
    comma-separated, or a list); a checkpoint that records none gives [].
    """
    if not isinstance(raw, dict):
        return []
    found = None
    for holder in (raw.get("data"), raw.get("extra"), raw):
        if isinstance(holder, dict) and holder.get("exclude"):
            found = holder["exclude"]
            break
    if found is None:
        spec = (raw.get("data") or {}).get("spec", "") if isinstance(raw.get("data"), dict) else ""
        for part in str(spec).split(":"):
            if part.startswith("exclude="):
                found = part[len("exclude="):]
    if not found:
        return []
    if isinstance(found, dict):
        return [f"{k}={v}" for k, v in found.items()]
    items = found.split(",") if isinstance(found, str) else list(found)
    return [str(i).strip() for i in items if str(i).strip()]


def attribute_names_of(exclusions) -> list[str]:
    """Attribute names of exclusion specs: ``Male=1`` -> ``Male``, ``Eyeglasses`` -> ``Eyeglasses``."""
    out = []
    for e in exclusions:
        name = str(e).split("=")[0].strip()
        if name and name not in out:
            out.append(name)
    return out


def _from_checkpoint(path, role: str, device) -> AuditGenerator:
    from ..gan.checkpoint import file_sha256, load_checkpoint, read_checkpoint_dict

    raw = read_checkpoint_dict(path)
    arch = raw.get("arch") if isinstance(raw, dict) else None
    kind = str((arch or {}).get("name", "dcgan"))
    if kind == "aeacgan":
        G, D = _aeacgan_networks(path, raw)
    else:
        ck = load_checkpoint(path, device="cpu")
        G, D = ck.generator, ck.discriminator
    G, D = G.to(device).eval(), D.to(device).eval() if D is not None else None
    nz = _latent_size(G, f"--{role} {path}")
    return AuditGenerator(G, Path(path).name, nz, _image_shape(G, nz, f"--{role} {path}", device), D, Path(path), kind,
                          recorded_exclusions(raw), file_sha256(path))


def _aeacgan_networks(path, raw: dict):
    """(z-only generator at fixed labels, discriminator) of an AE-ACGAN checkpoint."""
    try:
        from ..gan.checkpoint import load_checkpoint

        ck = load_checkpoint(path, device="cpu")
        G, D = ck.generator, ck.discriminator
    except XaiprobeError:
        raise
    except Exception:  # an xaiprobe without AE-ACGAN checkpoint loading: build the networks directly
        try:
            from ..gan.aeacgan import AEACGANConfig, Discriminator, Generator
        except ImportError:
            raise XaiprobeError(f"checkpoint {path}: an AE-ACGAN checkpoint, which this xaiprobe cannot load; "
                                "upgrade xaiprobe") from None
        from ..gan.checkpoint import load_state_dict_checked

        cfg = AEACGANConfig.from_dict(raw["arch"])
        G, D = Generator(cfg), Discriminator(cfg)
        load_state_dict_checked(G, raw["generator"], f"checkpoint {path} (generator)")
        load_state_dict_checked(D, raw["discriminator"], f"checkpoint {path} (discriminator)")
    return fixed_label_generator(G), D


def _image_shape(G: nn.Module, nz: int, what: str, device) -> tuple:
    from .._utils.coerce import evaluating

    try:
        with torch.no_grad(), evaluating(G):
            x = G(torch.zeros(2, nz, device=device))
    except XaiprobeError:
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0][:120] if str(exc) else ""
        raise XaiprobeError(f"{what}: the generator fails on latents of size {nz} ({type(exc).__name__}: {first}); "
                            "it must map z (n, nz) to images") from None
    if not torch.is_tensor(x) or x.dim() != 4 or x.shape[0] != 2:
        raise XaiprobeError(f"{what}: the generator returns {tuple(getattr(x, 'shape', ()))}, not images (n, C, H, W)")
    return tuple(int(s) for s in x.shape[1:])


def load_generator(obj, role: str = "reference", device="cpu") -> AuditGenerator:
    """An :class:`AuditGenerator` from a checkpoint path, Checkpoint, nn.Module or plugin spec.

    An ``nn.Module`` is used as it is (not copied; put in eval mode only while it runs).
    """
    from ..gan.checkpoint import Checkpoint

    what = f"--{role}"
    if isinstance(obj, AuditGenerator):
        return obj
    if isinstance(obj, Checkpoint):
        G = obj.generator
        if str(obj.arch.get("name", "dcgan")) == "aeacgan":
            G = fixed_label_generator(G)
        nz = _latent_size(G, what)
        return AuditGenerator(G.to(device), str(obj.path.name if obj.path else "checkpoint"), nz,
                              _image_shape(G, nz, what, device), obj.discriminator, obj.path,
                              str(obj.arch.get("name", "dcgan")), recorded_exclusions(obj.raw), "")
    if isinstance(obj, nn.Module):
        G = fixed_label_generator(obj) if getattr(obj, "conditional", False) else obj
        nz = _latent_size(G, what)
        return AuditGenerator(G, type(obj).__name__, nz, _image_shape(G, nz, what, device), None, None, "module")
    if isinstance(obj, (str, os.PathLike)):
        text = os.fspath(obj)
        if not text:
            raise XaiprobeError(f"{what}: empty; pass a checkpoint (.pt) or pkg.module:factory")
        if Path(text).is_file() or text.endswith(".pt") or ":" not in text:
            return _from_checkpoint(text, role, device)
        from ..activations import plugin

        build = getattr(plugin, "build_module", None)
        G = build(text) if build is not None else plugin._build(plugin.import_factory(text), text, None)
        if getattr(G, "conditional", False):
            G = fixed_label_generator(G)
        G = G.to(device)
        nz = _latent_size(G, f"{what} {text}")
        return AuditGenerator(G, text, nz, _image_shape(G, nz, f"{what} {text}", device), None, None, "plugin")
    raise XaiprobeError(f"{what}: expected a checkpoint path, pkg.module:factory or an nn.Module, "
                        f"got {type(obj).__name__}")


def check_pair(reference: AuditGenerator, client: AuditGenerator, client_role: str = "client") -> bool:
    """Raise when two generators cannot be audited against each other; True when they are the same.

    The image shapes and latent sizes must agree (an audit compares edits z + αd of both in
    one feature space). The same checkpoint file (or module) twice is the null audit: a
    warning, then it runs.
    """
    if reference.image_shape != client.image_shape:
        r, c = reference.image_shape, client.image_shape
        raise XaiprobeError(f"--{client_role} {client.label}: images {c[0]}x{c[1]}x{c[2]} but the reference's are "
                            f"{r[0]}x{r[1]}x{r[2]}; audit generators with the same image size")
    if reference.nz != client.nz:
        raise XaiprobeError(f"--{client_role} {client.label}: latent size {client.nz} but the reference's is "
                            f"{reference.nz}; audit generators with the same latent size")
    same = reference.module is client.module or (
        reference.path is not None and client.path is not None
        and (reference.path.resolve() == client.path.resolve()
             or (reference.sha256 and reference.sha256 == client.sha256)))
    if same:
        log.warning("--%s %s is the reference itself: this is the null audit (nothing should be flagged as "
                    "novel or missing)", client_role, client.label)
    return bool(same)

"""The GAN architectures xaiprobe trains, by kind: ``dcgan`` and ``aeacgan``.

A checkpoint's ``arch`` dict records its kind under ``"name"`` (a missing name is a DCGAN,
as in checkpoints written before the AE-ACGAN existed).
"""
from __future__ import annotations

from torch import nn

from .._utils.errors import XaiprobeError
from .aeacgan import AEACGAN, AEACGANConfig, build_aeacgan
from .dcgan import DCGANConfig, Discriminator, Generator, build_dcgan

#: architecture kinds, in help order
KINDS = ("dcgan", "aeacgan")
_CONFIGS = {"dcgan": DCGANConfig, "aeacgan": AEACGANConfig}
LABELS = {"dcgan": "DCGAN", "aeacgan": "AE-ACGAN"}


def with_article(kind: str) -> str:
    """'a DCGAN', 'an AE-ACGAN'."""
    label = LABELS[kind]
    return f"{'an' if label[0] in 'AEIOU' else 'a'} {label}"


def check_kind(kind: str, what: str = "--arch") -> str:
    """``kind`` when it is a known architecture, else one clear error listing the valid ones."""
    if kind not in KINDS:
        raise XaiprobeError(f"{what} {kind!r}: unknown architecture; use one of {', '.join(KINDS)}")
    return kind


def arch_kind(arch) -> str:
    """The kind of an arch dict or config object (``dcgan`` when unnamed)."""
    name = arch.get("name", "dcgan") if isinstance(arch, dict) else getattr(arch, "name", "dcgan")
    return check_kind(str(name), "architecture")


def config_from_dict(arch: dict | DCGANConfig | AEACGANConfig):
    """The config object of an arch dict (or the config itself)."""
    if isinstance(arch, (DCGANConfig, AEACGANConfig)):
        return arch
    return _CONFIGS[arch_kind(arch)].from_dict(arch)


def build_models(arch, seed: int | None = None, initialize: bool = True) -> dict[str, nn.Module]:
    """Freshly initialized networks of ``arch`` by role: ``generator``, ``discriminator``
    and, for the AE-ACGAN, ``encoder``; ``seed`` makes the initialization deterministic.
    ``initialize=False`` skips the architecture's own initialization (for weights loaded next)."""
    cfg = config_from_dict(arch)
    if not initialize:
        if isinstance(cfg, AEACGANConfig):
            m = AEACGAN(cfg)
            return {"generator": m.generator, "discriminator": m.discriminator, "encoder": m.encoder}
        return {"generator": Generator(cfg), "discriminator": Discriminator(cfg)}
    if isinstance(cfg, AEACGANConfig):
        m = build_aeacgan(config=cfg, seed=seed)
        return {"generator": m.generator, "discriminator": m.discriminator, "encoder": m.encoder}
    G, D = build_dcgan(cfg, seed=seed)
    return {"generator": G, "discriminator": D}


def resolve_config(kind: str | None, config, n_attributes: int, *, resumed: dict | None = None,
                   init: dict | None = None, init_path=None):
    """The config a training run uses.

    ``kind`` (``--arch``) and ``config`` (a config object or dict, e.g. from width options)
    are what the caller asked for; ``resumed`` and ``init`` are the raw checkpoints a resumed
    or fine-tuned run starts from, whose architecture is used when none is asked for. An
    AE-ACGAN takes its attribute count from the data (``n_attributes``).
    """
    if kind is not None:
        check_kind(kind)
    if isinstance(config, dict):
        config = dict(config)
    asked = arch_kind(config) if config is not None and (not isinstance(config, dict) or "name" in config) else None
    if kind is not None and asked is not None and asked != kind:
        raise XaiprobeError(f"--arch {kind}: the architecture config given is {with_article(asked)}'s; "
                            f"pass a config of kind {kind} or drop --arch")
    base = resumed if resumed is not None else init
    base_kind = arch_kind(base.get("arch") or {}) if base is not None else None
    kind = kind or asked or base_kind or "dcgan"
    if kind == "aeacgan" and int(n_attributes) < 1:
        raise XaiprobeError("--arch aeacgan: the data set has no attributes; the AE-ACGAN trains on labeled "
                            "images (use --arch dcgan for unlabeled ones)")
    if config is None and base_kind == kind:
        config = dict(base["arch"])
    if config is None:
        config = {"name": kind}
    if isinstance(config, dict):
        fields = _CONFIGS[kind].__dataclass_fields__
        unknown = sorted(k for k in config if k not in fields)
        if unknown:
            raise XaiprobeError(f"architecture option(s) {', '.join(unknown)}: not options of {with_article(kind)}; "
                                f"its options are {', '.join(f for f in fields if f != 'name')}")
        config = {**config, "name": kind}
        if kind == "aeacgan":
            config.setdefault("n_attributes", n_attributes)
    config = config_from_dict(config)
    if kind == "aeacgan" and int(config.n_attributes) != int(n_attributes):
        raise XaiprobeError(f"architecture n_attributes {config.n_attributes}: the data set has {n_attributes} "
                            "attributes; an AE-ACGAN is built for its data's attribute count")
    if init is not None:
        old = dict(init.get("arch") or {})
        if arch_kind(old) != kind:
            raise XaiprobeError(f"--init {init_path}: it is {with_article(arch_kind(old))} checkpoint, this run trains "
                                f"{with_article(kind)}; pass --arch {arch_kind(old)} or {with_article(kind)} checkpoint")
        if old != config.to_dict():
            diff = sorted(k for k in set(old) | set(config.to_dict()) if old.get(k) != config.to_dict().get(k))
            raise XaiprobeError(f"--init {init_path}: its architecture differs from this run's ({', '.join(diff)}); "
                                "drop the width options to use the checkpoint's, or fine-tune on data with as many attributes")
    return config

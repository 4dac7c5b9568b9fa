"""What an attribution explains: the discriminator's logit, or a concept it "sees" at a layer.

A target is one ``nn.Module`` mapping images (n, C, H, W) to scores (n, 1), so Captum can
treat it like any model:

* ``"logit"`` -- D(x), the real/fake logit;
* ``"concept:Smiling@conv3"`` -- D up to ``conv3`` (the rest of D is not run), pooled the way
  the probe was trained, flattened, then the probe's (or concept decoder's) ``to_module()``;
  the score is the Smiling logit, so a map shows which pixels make D "see" Smiling.

* ``"aux:Smiling"`` -- the column ``Smiling`` of the model's auxiliary attribute head
  (``model.aux_logits(x)``, e.g. an AE-ACGAN discriminator).

Targets wrap the caller's model as it is (no copy): run them inside
:func:`xaiprobe._utils.coerce.evaluating` for eval mode on a device. Forward hooks are added for
the duration of one call and removed in ``finally``; nothing else about the model changes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .._utils.coerce import module_device
from .._utils.errors import XaiprobeError
from ..activations.hooks import alias_table, pool_activation, resolve_layer

#: target kinds understood by :func:`parse_target`
TARGET_KINDS = ("logit", "concept:NAME@LAYER", "aux:NAME")


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once the wanted layer has run."""


class LayerOutput(nn.Module):
    """``model`` run up to ``layer``: ``forward(x)`` returns that layer's output.

    The forward pass stops right after the layer (a hook raises an internal signal), so later
    layers cost nothing and cannot modify the output in place. The hook lives only for the
    duration of one forward call and is removed in ``finally``.

    Parameters
    ----------
    model : nn.Module
    layer : str or nn.Module
        Alias (``conv3``), module path (``main.7``) or the submodule itself.
    """

    def __init__(self, model: nn.Module, layer):
        super().__init__()
        self.model = model
        self.layer_name, self.layer_path, _ = resolve_layer(model, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        box: dict[str, torch.Tensor] = {}

        def hook(module, inputs, output):
            box["out"] = output if torch.is_tensor(output) else output[0]
            raise _StopForward

        handle = self.model.get_submodule(self.layer_path).register_forward_hook(hook)
        try:
            self.model(x)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if "out" not in box:
            raise XaiprobeError(f"layer {self.layer_name}: not reached by the model's forward pass; "
                                "pick a layer the forward pass uses (see `xaiprobe layers`)")
        return box["out"]


class LogitTarget(nn.Module):
    """The discriminator's real/fake logit as a module: images (n, C, H, W) -> (n, 1).

    Parameters
    ----------
    model : nn.Module
        The discriminator (used as given, not copied).
    logit_layer : str, optional
        Read the logit from this layer instead of the output (models ending in a sigmoid).
    """

    def __init__(self, model: nn.Module, logit_layer: str | None = None):
        super().__init__()
        self.model = model
        self.body = LayerOutput(model, logit_layer) if logit_layer else None
        self.description = "logit"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x) if self.body is not None else self.model(x)
        return out.reshape(x.shape[0], -1)[:, :1]


class ConceptTarget(nn.Module):
    """D up to ``layer`` -> pooling -> flatten -> probe/decoder head -> one concept's logit.

    Parameters
    ----------
    model : nn.Module
        The discriminator.
    layer : str or nn.Module
        The layer the probe was trained on.
    head : nn.Module
        Maps flattened (pooled) activations (n, D) to logits (n, A) -- ``probe.to_module()``.
    index : int
        Column of the concept in the head's output.
    pooling : str
        The pooling the probe's features used (``none``, ``mean``, ``max``, ``avgK``).
    concept : str
        The concept's name, for labels.
    """

    def __init__(self, model: nn.Module, layer, head: nn.Module, index: int, pooling: str | None = "none",
                 concept: str = ""):
        super().__init__()
        self.body = LayerOutput(model, layer)
        self.model = model
        self.head = head.eval()
        self.index = int(index)
        self.pooling = pooling or "none"
        self.concept = concept
        self.description = f"concept:{concept}@{self.body.layer_name}"

    @property
    def layer_name(self) -> str:
        return self.body.layer_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = pool_activation(self.body(x), self.pooling).flatten(1)
        want = getattr(self.head, "in_features", None) or getattr(next(iter(self.head.children()), None), "in_features", None)
        if want is not None and a.shape[1] != want:
            raise XaiprobeError(f"target {self.description}: the probe takes {want} features but layer {self.layer_name} "
                                f"gives {a.shape[1]} (pooling {self.pooling}); it was trained on another model or "
                                "pooling -- rerun `xaiprobe probe --activations FILE` on this checkpoint's activations")
        return self.head(a)[:, self.index:self.index + 1]


@dataclass(frozen=True)
class TargetSpec:
    """A parsed target string."""

    kind: str  # "logit", "concept" or "aux"
    concept: str = ""
    layer: str = ""

    def __str__(self) -> str:
        if self.kind == "logit":
            return "logit"
        if self.kind == "aux":
            return f"aux:{self.concept}"
        return f"concept:{self.concept}@{self.layer}"


_CONCEPT_RE = re.compile(r"^concept:([^@]+)@(.+)$")


def parse_target(target: str) -> TargetSpec:
    """Parse ``"logit"``, ``"concept:NAME@LAYER"`` or ``"aux:NAME"``; anything else lists the valid forms."""
    s = str(target).strip()
    if s in ("logit", "d", "D"):
        return TargetSpec("logit")
    m = _CONCEPT_RE.match(s)
    if m and m.group(1).strip() and m.group(2).strip():
        return TargetSpec("concept", m.group(1).strip(), m.group(2).strip())
    if s.startswith("concept:"):
        raise XaiprobeError(f"target {s!r}: a concept target needs a layer; write concept:NAME@LAYER, "
                            "e.g. concept:Smiling@conv3")
    if s.startswith("aux:") and s[4:].strip():
        return TargetSpec("aux", s[4:].strip())
    raise XaiprobeError(f"target {s!r}: unknown; valid targets are logit, concept:NAME@LAYER "
                        "(e.g. concept:Smiling@conv3) and aux:NAME (a model with an auxiliary attribute head)")


class AuxTarget(nn.Module):
    """One column of the model's auxiliary attribute head: images (n, C, H, W) -> (n, 1).

    Parameters
    ----------
    model : nn.Module
        A discriminator with an ``aux_logits(x) -> (n, A)`` method (e.g. an AE-ACGAN's).
    index : int
        Column of the attribute.
    name : str
        The attribute's name, for labels.
    """

    def __init__(self, model: nn.Module, index: int, name: str = ""):
        super().__init__()
        self.model = model
        self.index = int(index)
        self.description = f"aux:{name or index}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model.aux_logits(x)
        return out.reshape(x.shape[0], -1)[:, self.index:self.index + 1]


def aux_index(model: nn.Module, name: str, aux_names=None) -> int:
    """Column of attribute ``name`` in ``model.aux_logits``; one-line error when there is none.

    ``aux_names`` (e.g. the checkpoint's attribute names) default to ``model.attribute_names``;
    without names, ``name`` may be a column number.
    """
    if not callable(getattr(model, "aux_logits", None)):
        raise XaiprobeError(f"target aux:{name}: the model ({type(model).__name__}) has no auxiliary attribute head "
                            "(aux_logits); use target logit or concept:NAME@LAYER")
    names = [str(a) for a in (aux_names if aux_names is not None else getattr(model, "attribute_names", None) or [])]
    if name in names:
        return names.index(name)
    if name.isdigit() and not names:
        return int(name)
    known = ", ".join(names) if names else "none recorded (give a column number, e.g. aux:0)"
    raise XaiprobeError(f"target aux:{name}: not an attribute of the auxiliary head; its attributes are {known}")


@dataclass
class ConceptHead:
    """A fitted probe or decoder with what is needed to rebuild its features."""

    estimator: object
    layer: str
    concept_names: list
    pooling: str
    kind: str  # "probe" or "decoder"
    path: str = ""


def _head_from_estimator(est, layer: str, kind: str, path: str = "") -> ConceptHead:
    names = (getattr(est, "attribute_names_", None) or getattr(est, "concept_names_", None)
             or getattr(est, "attribute_names", None) or getattr(est, "concept_names", None) or [])
    pooling = getattr(est, "pooling_", None) or getattr(est, "pooling", None) or "none"
    layer = getattr(est, "layer_", None) or layer
    return ConceptHead(est, str(layer), [str(n) for n in names], str(pooling), kind, path)


def _layer_keys(model: nn.Module, layer: str) -> list[str]:
    """Names a probe file for ``layer`` may carry: the name given, its alias and its module path."""
    keys = [layer]
    try:
        name, path, _ = resolve_layer(model, layer)
        keys += [name, path]
    except XaiprobeError:
        pass
    return list(dict.fromkeys(keys))


def _find_probe_files(probes_dir: Path) -> dict[str, tuple[str, Path]]:
    found = {}
    for kind, prefix in (("decoder", "decoder_"), ("probe", "probe_")):  # probes win over decoders
        for p in sorted(probes_dir.glob(f"{prefix}*.pt")):
            found[p.stem[len(prefix):]] = (kind, p)
    return found


def load_concept_head(probes, layer: str, model: nn.Module | None = None) -> ConceptHead:
    """The probe (or concept decoder) trained on ``layer``.

    Parameters
    ----------
    probes : str, Path, dict or estimator
        A directory holding ``probe_<layer>.pt`` (``xaiprobe probe``) or ``decoder_<layer>.pt``
        (``xaiprobe decode``); a dict layer -> fitted estimator; or one fitted estimator.
    layer : str
    model : nn.Module, optional
        Used to match aliases with module paths (``conv3`` == ``main.7``).

    Returns
    -------
    ConceptHead
    """
    keys = _layer_keys(model, layer) if model is not None else [layer]
    if probes is None:
        raise XaiprobeError(f"target concept@{layer}: no probes given, so no trained probe for layer {layer}; "
                            "run `xaiprobe probe --activations FILE` first (or `xaiprobe decode`) and pass its output "
                            "directory with --probes DIR")
    if hasattr(probes, "to_module"):
        return _head_from_estimator(probes, layer, "probe")
    if isinstance(probes, dict):
        for k in keys:
            if k in probes:
                est = probes[k]
                if isinstance(est, ConceptHead):
                    return est
                kind = "decoder" if "Decoder" in type(est).__name__ else "probe"
                return _head_from_estimator(est, k, kind)
        raise XaiprobeError(f"target concept@{layer}: no trained probe for layer {layer} (have {', '.join(map(str, probes)) or 'none'}); "
                            "run `xaiprobe probe --activations FILE` first with that layer extracted")
    d = Path(probes)
    if not d.is_dir():
        raise XaiprobeError(f"probes {d}: not a directory; run `xaiprobe probe --activations FILE` first "
                            "(or `xaiprobe decode`) and pass its output directory with --probes DIR")
    files = _find_probe_files(d)
    for k in keys:
        if k in files:
            kind, path = files[k]
            if kind == "probe":
                from ..probes import LinearProbe
                est = LinearProbe.load(path)
            else:
                from ..probes import ConceptDecoder
                est = ConceptDecoder.load(path)
            return _head_from_estimator(est, k, kind, str(path))
    have = ", ".join(sorted(files)) or "none"
    raise XaiprobeError(f"target concept@{layer}: no trained probe for layer {layer} in {d} (layers with probes: {have}); "
                        f"run `xaiprobe probe --activations FILE` first (or `xaiprobe decode`) on activations that include {layer}")


def build_target(model: nn.Module, target="logit", probes=None, logit_layer: str | None = None,
                 aux_names=None) -> nn.Module:
    """The module an attribution explains, built around ``model`` as given (no copy).

    Parameters
    ----------
    model : nn.Module
        The discriminator (use it inside :func:`xaiprobe._utils.coerce.evaluating` for eval mode).
    target : str, TargetSpec or nn.Module
        ``"logit"``, ``"concept:NAME@LAYER"`` or ``"aux:NAME"``; a module is returned unchanged.
    probes : directory, dict layer -> estimator, or estimator, optional
        Needed for concept targets.
    logit_layer : str, optional
        See :class:`LogitTarget`.
    aux_names : list of str, optional
        Names of the auxiliary head's columns (aux targets; default ``model.attribute_names``).

    Returns
    -------
    nn.Module
        images (n, C, H, W) -> scores (n, 1).
    """
    if isinstance(target, nn.Module):
        return target
    spec = target if isinstance(target, TargetSpec) else parse_target(target)
    if spec.kind == "logit":
        return LogitTarget(model, logit_layer)
    if spec.kind == "aux":
        return AuxTarget(model, aux_index(model, spec.concept, aux_names), spec.concept)
    resolve_layer(model, spec.layer)  # unknown layer -> error listing the valid ones
    head = load_concept_head(probes, spec.layer, model)
    if spec.concept not in head.concept_names:
        raise XaiprobeError(f"target concept {spec.concept!r}: the {head.kind} for {spec.layer} knows "
                            f"{', '.join(head.concept_names) or 'no named concepts'}; pick one of those")
    index = head.concept_names.index(spec.concept)
    module = head.estimator.to_module()
    module.to(module_device(model))
    return ConceptTarget(model, spec.layer, module, index, head.pooling, spec.concept)


def target_model(target: nn.Module) -> nn.Module:
    """The discriminator inside a target module (for resolving layer names)."""
    return getattr(target, "model", target)


def concept_layers(probes, model: nn.Module | None = None) -> list[str]:
    """Layers that have a probe or decoder in ``probes`` (a directory or dict)."""
    if probes is None:
        return []
    if isinstance(probes, dict):
        return list(probes)
    d = Path(probes)
    if not d.is_dir():
        return []
    layers = list(_find_probe_files(d))
    if model is not None:
        order = {a: i for i, a in enumerate(alias_table(model))}
        layers.sort(key=lambda name: order.get(name, len(order)))
    return layers

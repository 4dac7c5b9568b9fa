"""Layer names, aliases and the activation recorder.

A layer is named by its module path (``main.5``), by an alias (``conv3``, from the model's
``aliases`` table; any other discriminator gets conv1..convK by order of its Conv2d layers),
or passed as the nn.Module itself.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from .._utils.errors import XaiprobeError

LayerSpec = "str | nn.Module"


def alias_table(model: nn.Module) -> dict[str, str]:
    """Alias -> module path. The model's own ``aliases`` when it has them, else conv1..convK."""
    table = getattr(model, "aliases", None)
    if isinstance(table, dict) and table:
        return dict(table)
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return {f"conv{i + 1}": name for i, name in enumerate(convs)}


def layer_names(model: nn.Module) -> list[str]:
    """Every hookable name: aliases first, then every submodule path."""
    return list(alias_table(model)) + [n for n, _ in model.named_modules() if n]


def resolve_layer(model: nn.Module, layer) -> tuple[str, str, nn.Module]:
    """(display name, module path, module) for an alias, a module path or a module.

    An unknown name raises XaiprobeError listing the valid names.
    """
    modules = dict(model.named_modules())
    if isinstance(layer, nn.Module):
        for path, m in modules.items():
            if m is layer:
                rev = {v: k for k, v in alias_table(model).items()}
                return rev.get(path, path or "model"), path, m
        raise XaiprobeError("layer: the module passed is not part of this model; pass a submodule of the discriminator")
    name = str(layer)
    aliases = alias_table(model)
    if name in aliases:
        return name, aliases[name], modules[aliases[name]]
    if name in modules and name:
        rev = {v: k for k, v in aliases.items()}
        return rev.get(name, name), name, modules[name]
    valid = ", ".join(list(aliases) + [n for n in modules if n][:40])
    raise XaiprobeError(f"layer {name!r}: unknown; valid layers are {valid}")


def resolve_layers(model: nn.Module, names) -> list[tuple[str, str, nn.Module]]:
    """Resolve a string, a module, a list of them, or a callable filter ``f(name) -> bool``
    (applied to aliases and module paths). ``None`` or ``"all"`` means every alias."""
    if names is None or names == "all":
        return [resolve_layer(model, a) for a in alias_table(model)]
    if callable(names) and not isinstance(names, nn.Module):
        chosen = [n for n in layer_names(model) if names(n)]
        if not chosen:
            raise XaiprobeError(f"layer filter: matched no layer; valid layers are {', '.join(layer_names(model)[:40])}")
        names = chosen
    if isinstance(names, (str, nn.Module)):
        names = [names]
    out, seen = [], set()
    for n in names:
        r = resolve_layer(model, n)
        if r[1] not in seen:
            seen.add(r[1])
            out.append(r)
    return out


@dataclass
class LayerInfo:
    alias: str
    module_path: str
    module_type: str
    output_shape: tuple
    n_params: int


def describe_layers(model: nn.Module, image_shape: Sequence[int] = (3, 64, 64)) -> list[LayerInfo]:
    """Alias, module path, type, output shape (one image) and parameter count of every layer
    worth probing: aliased layers first, then each leaf module."""
    aliases = alias_table(model)
    rev = {v: k for k, v in aliases.items()}
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    paths = list(aliases.values()) + [n for n, _ in leaves if n not in rev]
    modules = dict(model.named_modules())
    shapes: dict[str, tuple] = {}
    hooks = []
    try:
        for p in paths:
            hooks.append(modules[p].register_forward_hook(
                lambda m, i, o, p=p: shapes.__setitem__(p, tuple(o.shape[1:]) if torch.is_tensor(o) else ())))
        was_training = model.training
        model.eval()
        try:
            dev = next((t.device for t in model.parameters()), torch.device("cpu"))
            with torch.no_grad():
                model(torch.zeros(1, *image_shape, device=dev))
        finally:
            model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return [LayerInfo(rev.get(p, ""), p, type(modules[p]).__name__, shapes.get(p, ()),
                      sum(x.numel() for x in modules[p].parameters())) for p in paths]


Pool = "str | None"


def pool_activation(t: torch.Tensor, pooling: str | None) -> torch.Tensor:
    """Pool a (N, C, H, W) activation: ``none``, ``mean``, ``max`` or ``avgK`` (adaptive K×K)."""
    if pooling in (None, "none") or t.dim() < 3:
        return t
    if pooling == "mean":
        return t.mean(dim=tuple(range(2, t.dim())))
    if pooling == "max":
        return t.amax(dim=tuple(range(2, t.dim())))
    if pooling.startswith("avg") and pooling[3:].isdigit():
        return nn.functional.adaptive_avg_pool2d(t, int(pooling[3:]))
    raise XaiprobeError(f"pooling {pooling!r}: unknown; use none, mean, max or avgK (e.g. avg2)")


class ActivationRecorder(contextlib.AbstractContextManager):
    """Context manager that records layer outputs during forward passes.

    Hooks store ``output.detach().clone()`` (pooled when asked), so in-place ops after the
    layer (DCGAN's LeakyReLU) cannot corrupt them. Hooks are removed on exit, also on error.

    Examples
    --------
    >>> with ActivationRecorder(D, ["conv3"]) as rec:
    ...     logits = D(x)
    >>> rec.cache["conv3"].shape
    """

    def __init__(self, model: nn.Module, layers=None, pooling: str | None = None, detach: bool = True):
        self.model = model
        self.layers = resolve_layers(model, layers)
        self.pooling = pooling
        self.detach = detach
        self.cache: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def _hook(self, name: str) -> Callable:
        def hook(module, inputs, output):
            if not torch.is_tensor(output):
                output = output[0]
            out = output.detach() if self.detach else output
            out = pool_activation(out, self.pooling)
            self.cache[name] = out.clone() if (self.detach and out.data_ptr() == output.data_ptr()) else out
        return hook

    def __enter__(self) -> "ActivationRecorder":
        try:
            for name, _path, module in self.layers:
                self._handles.append(module.register_forward_hook(self._hook(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __exit__(self, *exc) -> None:
        self.remove()
        return None


def run_with_cache(model: nn.Module, x: torch.Tensor, layers=None, pooling: str | None = None,
                   no_grad: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One call returns (output, cache): cache maps each layer name to its (cloned) output.

    ``layers`` is a name, a list of names/modules, a callable filter, or None for all aliases.
    """
    ctx = torch.no_grad() if no_grad else contextlib.nullcontext()
    with ctx, ActivationRecorder(model, layers, pooling=pooling) as rec:
        out = model(x)
    return out, dict(rec.cache)


def logits_of(model: nn.Module, x: torch.Tensor, logit_layer: str | None = None) -> torch.Tensor:
    """The discriminator's logit (N,): its output, or a named layer's output when the model
    ends in a sigmoid."""
    if logit_layer is None:
        return model(x).reshape(x.shape[0], -1)[:, 0]
    _, cache = run_with_cache(model, x, [logit_layer])
    return next(iter(cache.values())).reshape(x.shape[0], -1)[:, 0]

"""Layer names, aliases and the activation recorder.

A layer is named by its module path (``main.5``), by an alias (``conv3``), or passed as the
nn.Module itself.

Aliases have one meaning for every model: **an alias records a block's output, after its
activation** (a block = a convolution or linear layer with its normalization and activation).

* A model may provide its own table as an ``aliases`` attribute (alias -> module path), written
  to this meaning: the DCGAN discriminator's ``conv1``..``conv4`` are its LeakyReLU outputs and
  ``conv5`` the final convolution, whose output is the logit; the AE-ACGAN networks have tables
  of their own.
* Any other nn.Module gets ``conv1``..``convK``, one per Conv2d in the order of
  ``named_modules()``. Each is attached to the first activation module that follows the Conv2d
  in the same ``nn.Sequential`` (normalization and dropout in between are skipped). A Conv2d with
  no activation module after it there (an activation applied functionally in ``forward``, or the
  last layer) keeps the Conv2d output.

:func:`describe_layers` (``xaiprobe layers``) says for every alias what it records, e.g.
"block output after LeakyReLU (Conv2d → BatchNorm2d → LeakyReLU)" or "Conv2d output (no
activation module follows it)".
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from .._utils.errors import XaiprobeError

#: modules that end a block (the output an alias records)
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
               nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Tanh, nn.Sigmoid, nn.Softplus,
               nn.LogSigmoid, nn.Softsign, nn.Threshold)
#: modules between a layer and its activation that a block skips over
NORMALIZATIONS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.InstanceNorm1d,
                  nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm,
                  nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)


def _siblings(model: nn.Module, path: str):
    """(parent path, [(name, module)] of the parent nn.Sequential, index of ``path``) or None."""
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    if not isinstance(parent, nn.Sequential):
        return None
    children = list(parent.named_children())
    names = [n for n, _ in children]
    return (parent_path, children, names.index(name)) if name in names else None


def _following(model: nn.Module, path: str) -> list[tuple[str, nn.Module]]:
    """The normalization/dropout modules after ``path`` in its nn.Sequential, up to and including
    the first activation (empty when none follows there)."""
    found = _siblings(model, path)
    if found is None:
        return []
    parent_path, children, i = found
    out = []
    for name, m in children[i + 1:]:
        full = f"{parent_path}.{name}" if parent_path else name
        if isinstance(m, ACTIVATIONS):
            return out + [(full, m)]
        if not isinstance(m, NORMALIZATIONS):
            break
        out.append((full, m))
    return []


def _block_output(model: nn.Module, conv_path: str) -> str:
    """The first activation after ``conv_path`` in its nn.Sequential, else ``conv_path`` itself."""
    after = _following(model, conv_path)
    return after[-1][0] if after else conv_path


def alias_table(model: nn.Module) -> dict[str, str]:
    """Alias -> module path. The model's own ``aliases`` when it has them, else conv1..convK at
    each Conv2d's block output (see the module docstring)."""
    table = getattr(model, "aliases", None)
    if isinstance(table, dict) and table:
        return dict(table)
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return {f"conv{i + 1}": _block_output(model, name) for i, name in enumerate(convs)}


def records(model: nn.Module, path: str) -> str:
    """What the output of module ``path`` is, in words: a block output after its activation, or
    a layer's own output (and what follows it)."""
    m = model.get_submodule(path) if path else model
    kind = type(m).__name__
    if isinstance(m, ACTIVATIONS):
        found = _siblings(model, path)
        chain = [kind]
        if found is not None:
            _, children, i = found
            for _, prev in reversed(children[:i]):
                chain.insert(0, type(prev).__name__)
                if not isinstance(prev, NORMALIZATIONS + ACTIVATIONS):
                    break
        return f"block output after {kind}" + (f" ({' → '.join(chain)})" if len(chain) > 1 else "")
    after = _following(model, path)
    if after:
        return f"{kind} output, before {' → '.join(type(x).__name__ for _, x in after)}"
    return f"{kind} output (no activation module follows it)"


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
        if isinstance(n, tuple) and len(n) == 3 and isinstance(n[2], nn.Module):
            r = n  # already resolved (name, path, module)
        else:
            r = resolve_layer(model, n)
        if r[1] not in seen:
            seen.add(r[1])
            out.append(r)
    return out


@dataclass
class LayerInfo:
    """One hookable layer: its alias ("" when it has none), module path, module type, output
    shape for one image, parameter count and what its output is (see :func:`records`)."""

    alias: str
    module_path: str
    module_type: str
    output_shape: tuple
    n_params: int
    records: str = ""


def describe_layers(model: nn.Module, image_shape: Sequence[int] = (3, 64, 64)) -> list[LayerInfo]:
    """Alias, module path, type, output shape (one image), parameter count and what it records,
    of every layer worth probing: aliased layers first, then each leaf module."""
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
                      sum(x.numel() for x in modules[p].parameters()), records(model, p)) for p in paths]


def check_pooling(pooling: str | None) -> str:
    """The pooling name normalized (None -> "none"); an unknown one raises XaiprobeError."""
    if pooling is None or pooling in ("none", "mean", "max"):
        return pooling or "none"
    if isinstance(pooling, str) and pooling.startswith("avg") and pooling[3:].isdigit() and int(pooling[3:]) > 0:
        return pooling
    raise XaiprobeError(f"pooling {pooling!r}: unknown; use none, mean, max or avgK (adaptive K×K average, e.g. avg2)")


def pool_activation(t: torch.Tensor, pooling: str | None) -> torch.Tensor:
    """Pool an activation of shape (N, C, *spatial).

    ``none`` keeps it; ``mean``/``max`` reduce every spatial axis -> (N, C); ``avgK`` is an
    adaptive K×K average -> (N, C, K, K) (outputs already at most K per side are kept). Outputs with fewer than three
    axes (N, D) are never pooled.
    """
    pooling = check_pooling(pooling)
    if pooling == "none" or t.dim() < 3:
        return t
    if pooling == "mean":
        return t.mean(dim=tuple(range(2, t.dim())))
    if pooling == "max":
        return t.amax(dim=tuple(range(2, t.dim())))
    k = int(pooling[3:])
    if all(s <= k for s in t.shape[2:]):
        return t  # already at most K per side: never upsample
    if t.dim() == 3:
        return nn.functional.adaptive_avg_pool1d(t, k)
    if t.dim() == 5:
        return nn.functional.adaptive_avg_pool3d(t, k)
    return nn.functional.adaptive_avg_pool2d(t, k)


def _shares_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    try:
        return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    except Exception:  # tensors without storage (sparse, ...): copy to be safe
        return True


class ActivationRecorder(contextlib.AbstractContextManager):
    """Context manager that records layer outputs during forward passes.

    Hooks store ``output.detach().clone()`` (pooled when asked), so in-place ops after the
    layer (DCGAN's LeakyReLU) cannot corrupt them. Hooks are removed on exit, also on error.

    Parameters
    ----------
    model : nn.Module
    layers : str, nn.Module, list of them, callable filter, or None/"all" (every alias)
    pooling : {"none", "mean", "max", "avgK"}, optional
        Applied inside the hook, so only the pooled tensor is kept.
    detach : bool
        False keeps the recorded tensors in the autograd graph (still cloned).
    dtype : torch.dtype, optional
        Cast inside the hook (e.g. torch.float16 to halve what is kept and moved).

    Attributes
    ----------
    cache : dict of str -> Tensor (N, ...)
        Output of each layer in the last forward pass, keyed by alias (or module path).

    Examples
    --------
    >>> with ActivationRecorder(D, ["conv3"]) as rec:
    ...     logits = D(x)
    >>> rec.cache["conv3"].shape
    """

    def __init__(self, model: nn.Module, layers=None, pooling: str | None = None, detach: bool = True,
                 dtype: torch.dtype | None = None):
        self.model = model
        self.layers = resolve_layers(model, layers)
        check_pooling(pooling)
        self.pooling = pooling
        self.detach = detach
        self.dtype = dtype
        self.cache: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def _hook(self, name: str) -> Callable:
        def hook(module, inputs, output):
            if not torch.is_tensor(output):
                tensors = [o for o in (output if isinstance(output, (tuple, list)) else ()) if torch.is_tensor(o)]
                if not tensors:
                    return
                output = tensors[0]
            out = output.detach() if self.detach else output
            out = pool_activation(out, self.pooling)
            if self.dtype is not None and out.dtype != self.dtype:
                out = out.to(self.dtype)  # a copy: converting on the compute side halves what is moved
            if _shares_memory(out, output):
                out = out.clone()  # later in-place ops (LeakyReLU(inplace=True)) must not change it
            self.cache[name] = out
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

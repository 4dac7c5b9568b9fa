"""Attribution methods: thin wrappers over Captum returning one map per image.

Each method is a class built from a *target module* (images -> scores (n, 1), see
:mod:`xaiprobe.attribution.targets`) with one ``attribute(images)`` method returning maps
(n, H, W): pixel methods sum their (n, C, H, W) attributions over channels, Grad-CAM is
upsampled from its layer with ``LayerAttribution.interpolate``. Captum does the math.

``attribute(model, images, method="ig", target="logit")`` is the one-call entry point.
"""
from __future__ import annotations

import logging

import torch
from captum.attr import (GradientShap, IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel,
                         Occlusion, Saliency)
from torch import nn

from .._utils.coerce import evaluating, module_device
from .._utils.errors import XaiprobeError
from ..activations.hooks import alias_table, describe_layers, resolve_layer
from ._targets import build_target, target_model

log = logging.getLogger(__name__)


class AttributionMethod:
    """Base class: ``AttributionMethod(target_module, layer=None, **defaults).attribute(x)``.

    Parameters
    ----------
    forward : nn.Module
        images (n, C, H, W) -> scores (n, K); column ``target`` is explained.
    layer : str, optional
        Only for layer methods (Grad-CAM).
    **defaults
        Default keyword arguments passed to Captum's ``attribute``.
    """

    name = ""
    #: keyword arguments given to Captum unless overridden
    captum_defaults: dict = {}
    uses_layer = False
    #: gradient-based (inputs get requires_grad); perturbation methods run without autograd
    needs_grad = True

    def __init__(self, forward: nn.Module, layer=None, **defaults):
        self.forward = forward
        self.layer = layer
        self.defaults = {**self.captum_defaults, **defaults}

    def attribute(self, images: torch.Tensor, target: int = 0, **kwargs) -> torch.Tensor:
        """Attribution maps.

        Parameters
        ----------
        images : Tensor, shape (n, C, H, W)
            On the target module's device, in [-1, 1].
        target : int
            Output column to explain.
        **kwargs
            Override Captum keyword arguments (``n_steps``, ``baselines`` ...).

        Returns
        -------
        Tensor, shape (n, H, W)
        """
        kw = {**self.defaults, **kwargs}
        try:
            if self.needs_grad:
                with torch.enable_grad():
                    return self._attribute(images.detach().requires_grad_(True), target, kw).detach()
            with torch.no_grad():
                return self._attribute(images.detach(), target, kw).detach()
        except TypeError as exc:
            if "unexpected keyword argument" not in str(exc):
                raise
            known = ", ".join(sorted(self.defaults)) or "none"
            raise XaiprobeError(f"method {self.name}: {str(exc).split(')')[-1].strip() or exc}; "
                                f"its options include {known} and the Captum {self.name} arguments") from None

    def _attribute(self, images, target, kw):  # pragma: no cover - overridden
        raise XaiprobeError(f"method {self.name}: subclasses define _attribute")


class IntegratedGradientsMethod(AttributionMethod):
    """Integrated gradients from a gray (all-zero) baseline, summed over channels."""

    name = "ig"
    captum_defaults = {"n_steps": 50, "baselines": 0.0}

    def _attribute(self, images, target, kw):
        return IntegratedGradients(self.forward).attribute(images, target=target, **kw).sum(1)


class SaliencyMethod(AttributionMethod):
    """Absolute input gradient, summed over channels."""

    name = "saliency"
    captum_defaults = {"abs": True}

    def _attribute(self, images, target, kw):
        return Saliency(self.forward).attribute(images, target=target, **kw).sum(1)


class GradientShapMethod(AttributionMethod):
    """GradientShap with a baseline distribution of the gray image and uniform noise images."""

    name = "gradshap"
    captum_defaults = {"n_samples": 16, "stdevs": 0.1, "n_baselines": 8, "seed": 0}

    def _attribute(self, images, target, kw):
        n_base, seed = int(kw.pop("n_baselines")), kw.pop("seed")
        if kw.get("baselines") is None:
            g = torch.Generator().manual_seed(int(seed))
            noise = torch.rand((max(n_base - 1, 0), *images.shape[1:]), generator=g) * 2 - 1
            kw["baselines"] = torch.cat([torch.zeros(1, *images.shape[1:]), noise]).to(images.device)
        with torch.random.fork_rng(devices=[] if images.device.type == "cpu" else [images.device]):
            torch.manual_seed(int(seed))
            return GradientShap(self.forward).attribute(images, target=target, **kw).sum(1)


class SmoothGradMethod(AttributionMethod):
    """SmoothGrad (Captum NoiseTunnel) over integrated gradients."""

    name = "smoothgrad"
    captum_defaults = {"nt_samples": 8, "stdevs": 0.15, "n_steps": 16, "baselines": 0.0, "seed": 0}

    def _attribute(self, images, target, kw):
        seed = kw.pop("seed")
        with torch.random.fork_rng(devices=[] if images.device.type == "cpu" else [images.device]):
            torch.manual_seed(int(seed))
            nt = NoiseTunnel(IntegratedGradients(self.forward))
            return nt.attribute(images, nt_type="smoothgrad", target=target, **kw).sum(1)


class GradCamMethod(AttributionMethod):
    """Grad-CAM on a conv layer, upsampled (bilinear) to the image size.

    The layer defaults to the concept's layer for concept targets, else to the deepest
    layer whose output is at least 8x8. Maps are signed (``relu_attributions=False``): a
    discriminator's logit often has only negative Grad-CAM evidence, which the classic ReLU
    turns into an all-zero map; pass ``relu_attributions=True`` for the classic form.
    """

    name = "gradcam"
    uses_layer = True
    captum_defaults = {"relu_attributions": False, "interpolate_mode": "bilinear"}

    def _attribute(self, images, target, kw):
        mode = kw.pop("interpolate_mode")
        model = target_model(self.forward)
        if self.layer is None:
            self.layer = default_cam_layer(self.forward, images.shape[1:])
        layer = self.layer
        _, path, module = resolve_layer(model, layer)
        cam = LayerGradCam(self.forward, module).attribute(images, target=target, **kw)
        if cam.dim() != 4:
            raise XaiprobeError(f"method gradcam: layer {layer} gives a {cam.dim()}-d output; pick a conv layer (4-d output)")
        up = LayerAttribution.interpolate(cam, tuple(images.shape[-2:]), interpolate_mode=mode)
        return up[:, 0]


class OcclusionMethod(AttributionMethod):
    """Occlusion with gray 8x8 patches on a stride of 4 (all channels at once)."""

    name = "occlusion"
    needs_grad = False
    captum_defaults = {"window": 8, "stride": 4, "baselines": 0.0, "perturbations_per_eval": 16}

    def _attribute(self, images, target, kw):
        w, s = int(kw.pop("window")), int(kw.pop("stride"))
        c = images.shape[1]
        attr = Occlusion(self.forward).attribute(images, sliding_window_shapes=(c, w, w), strides=(c, s, s),
                                                 target=target, **kw)
        return attr.sum(1) / c


#: method name -> class
METHODS: dict[str, type[AttributionMethod]] = {
    cls.name: cls for cls in (IntegratedGradientsMethod, SaliencyMethod, GradientShapMethod, SmoothGradMethod,
                              GradCamMethod, OcclusionMethod)
}


def get_method(method) -> type[AttributionMethod]:
    """A method class from a name (``ig``, ``saliency`` ...) or the class itself."""
    if isinstance(method, type) and issubclass(method, AttributionMethod):
        return method
    key = str(method).strip().lower()
    if key not in METHODS:
        raise XaiprobeError(f"method {method!r}: unknown; valid methods are {', '.join(METHODS)}")
    return METHODS[key]


def method_name(method) -> str:
    return get_method(method).name or getattr(method, "__name__", str(method))


def default_cam_layer(forward: nn.Module, image_shape=(3, 64, 64)) -> str:
    """Grad-CAM layer: the concept layer for a concept target, else the deepest aliased layer
    whose output is at least 8x8 (``conv3`` for the 64x64 DCGAN)."""
    if hasattr(forward, "layer_name"):
        return forward.layer_name
    model = target_model(forward)
    infos = [i for i in describe_layers(model, tuple(image_shape)) if i.alias and len(i.output_shape) == 3]
    good = [i.alias for i in infos if min(i.output_shape[1:]) >= 8]
    if good:
        return good[-1]
    if infos:
        return infos[0].alias
    raise XaiprobeError("method gradcam: the model has no conv layer with a spatial output; use another method")


def expected_image_shape(model: nn.Module) -> tuple | None:
    """(C, H, W) the model is built for, when it says so (DCGAN config), else None."""
    cfg = getattr(model, "config", None)
    if cfg is not None and hasattr(cfg, "image_size") and hasattr(cfg, "nc"):
        return (int(cfg.nc), int(cfg.image_size), int(cfg.image_size))
    return None


def check_images(images, model: nn.Module) -> torch.Tensor:
    """Validate a batch (n, C, H, W) of float images against the model; return it as a float tensor."""
    if not torch.is_tensor(images):
        try:
            images = torch.as_tensor(images)
        except (TypeError, ValueError, RuntimeError):
            raise XaiprobeError(f"images: expected a float tensor (n, C, H, W), got {type(images).__name__}") from None
    if images.dim() != 4:
        raise XaiprobeError(f"images: expected shape (n, C, H, W), got {tuple(images.shape)}; "
                            "add a batch dimension with images[None]")
    if not images.is_floating_point():
        raise XaiprobeError(f"images: dtype {images.dtype}; convert uint8 images with xaiprobe.data.base.to_float_images (range [-1, 1])")
    if images.shape[0] == 0:
        raise XaiprobeError("images: the batch is empty; pass at least one image")
    want = expected_image_shape(target_model(model))
    if want is not None and tuple(images.shape[1:]) != want:
        raise XaiprobeError(f"images: shape {tuple(images.shape[1:])} per image but the discriminator takes {want}; "
                            f"resize the images to {want[1]}x{want[2]} with {want[0]} channels")
    return images.float()


def _probe_forward(forward: nn.Module, images: torch.Tensor) -> None:
    """One-image forward: a model that cannot take these images fails here with one line."""
    with torch.no_grad():
        try:
            out = forward(images[:1])
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0][:160]
            raise XaiprobeError(f"images: the model fails on images of shape {tuple(images.shape[1:])} ({first}); "
                                "check the images have the size and channels the discriminator takes") from None
    if out.dim() < 1 or out.shape[0] != 1:
        raise XaiprobeError(f"images: shape {tuple(images.shape[1:])} gives model output {tuple(out.shape)} "
                            "instead of one row per image; resize the images to the discriminator's input size")


def attribute(model: nn.Module, images, method="ig", target="logit", layer=None, probes=None,
              batch_size: int = 16, device=None, logit_layer: str | None = None, aux_names=None,
              **kwargs) -> torch.Tensor:
    """Attribution maps of ``images`` for one method and one target.

    Parameters
    ----------
    model : nn.Module
        The discriminator. It is used in eval mode (on ``device``) for the call and left as it
        was afterwards (mode and device restored; nothing copied, no hook left behind).
    images : Tensor, shape (n, C, H, W)
        Float images in [-1, 1].
    method : str or AttributionMethod subclass
        One of ``METHODS``: ig, saliency, gradshap, smoothgrad, gradcam, occlusion.
    target : str or nn.Module
        ``"logit"``, ``"concept:NAME@LAYER"``, ``"aux:NAME"`` or a target module built with
        :func:`xaiprobe.attribution.build_target` (used on its own device).
    layer : str, optional
        Grad-CAM layer (alias or module path).
    probes : directory or dict, optional
        Probes/decoders for concept targets.
    batch_size : int
        Images per Captum call.
    device : str, optional
        Default: the model's device.
    aux_names : list of str, optional
        Column names of the auxiliary head (aux targets).
    **kwargs
        Captum options for the method (``n_steps``, ``baselines``, ``window`` ...).

    Returns
    -------
    Tensor, shape (n, H, W), float32, on the CPU
    """
    cls = get_method(method)
    images = check_images(images, model)
    if batch_size < 1:
        raise XaiprobeError(f"batch_size {batch_size}: must be at least 1")
    prebuilt = isinstance(target, nn.Module)
    base = target_model(target) if prebuilt else model
    with evaluating(base, None if prebuilt else device):
        forward = target if prebuilt else build_target(base, target, probes=probes, logit_layer=logit_layer,
                                                       aux_names=aux_names)
        if cls.uses_layer and layer is not None:
            resolve_layer(base, layer)
        images = images.to(module_device(base))
        if expected_image_shape(base) is None:
            _probe_forward(forward, images)
        runner = cls(forward, layer=layer)
        maps = [runner.attribute(images[start:start + batch_size], **kwargs).float().cpu()
                for start in range(0, images.shape[0], batch_size)]
    return torch.cat(maps)


def layer_choices(model: nn.Module) -> list[str]:
    """Layer names Grad-CAM accepts (aliases)."""
    return list(alias_table(model))

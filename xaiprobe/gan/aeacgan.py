"""The auto-encoder + auxiliary-classifier GAN (AE-ACGAN) of the Keras CelebA project.

Three networks, LeakyReLU + Dropout and no batch norm; every convolution is 4x4 stride 2
"same" except G's last (8x8 stride 1 "same", asymmetric zero padding (3, 4) like TensorFlow's):

- Encoder: image (N, 3, 64, 64) -> conv 32 -> conv 64 -> conv 128 (8x8) -> dense 128 ->
  (label logits (N, A), latent (N, nz)). The latent head is an unconstrained linear output.
- Generator: [labels (N, A), latent (N, nz)] -> dense 8192 -> 128x8x8 -> deconv 128 -> deconv 64
  -> deconv 32 -> conv 8x8 -> tanh image (N, 3, 64, 64).
- Discriminator: the encoder's trunk (its own weights) -> dense 128 -> real/fake logit (N,) and
  auxiliary attribute logits (N, A).

With ``width=1``, A=40 and nz=200 the parameter counts are those of the Keras layer tables:
encoder 1,245,264, generator 2,406,627, discriminator 1,219,593. ``width`` scales every channel
count and the dense 128 (tests use ``width=0.125``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .._utils.errors import XaiprobeError


@dataclass(frozen=True)
class AEACGANConfig:
    """Architecture of an AE-ACGAN.

    Parameters
    ----------
    n_attributes : int
        A, the number of binary labels (the data set's attribute count).
    nz : int
        Latent size.
    width : float
        Multiplier of every channel count and of the dense 128 (1 = the original).
    dropout : float
        Dropout rate after every hidden LeakyReLU of the three networks (inactive in eval mode).
    slope : float
        LeakyReLU negative slope.
    nc, image_size : int
        Image channels and side (3, 64).
    """

    n_attributes: int = 40
    nz: int = 200
    width: float = 1.0
    dropout: float = 0.25
    slope: float = 0.2
    nc: int = 3
    image_size: int = 64
    name: str = "aeacgan"

    def __post_init__(self):
        if int(self.n_attributes) < 1 or int(self.nz) < 1 or not float(self.width) > 0:
            raise XaiprobeError(f"architecture n_attributes={self.n_attributes} nz={self.nz} width={self.width}: "
                                "the AE-ACGAN needs >= 1 attribute, nz >= 1 and width > 0")
        if not 0 <= float(self.dropout) < 1:
            raise XaiprobeError(f"architecture dropout {self.dropout}: must be in [0, 1)")
        if self.image_size != 64:
            raise XaiprobeError(f"architecture: image_size {self.image_size} unsupported; the AE-ACGAN is built for 64x64")

    def channels(self, base: int) -> int:
        """``base`` scaled by ``width`` (at least 1)."""
        return max(1, int(round(base * float(self.width))))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AEACGANConfig":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if known.get("name", "aeacgan") != "aeacgan":
            raise XaiprobeError(f"architecture {known.get('name')!r}: not an AE-ACGAN config")
        return cls(**known)


def _trunk(cfg: AEACGANConfig) -> nn.Sequential:
    """conv x3 (4x4 stride 2, padding 1 = Keras 'same' at even sizes) -> flatten -> dense."""
    c1, c2, c3, h = cfg.channels(32), cfg.channels(64), cfg.channels(128), cfg.channels(128)
    act = lambda: nn.LeakyReLU(cfg.slope)  # noqa: E731  (not in place: hooks see each block's output)
    return nn.Sequential(
        nn.Conv2d(cfg.nc, c1, 4, 2, 1), act(), nn.Dropout(cfg.dropout),    # 0-2: 32x32
        nn.Conv2d(c1, c2, 4, 2, 1), act(), nn.Dropout(cfg.dropout),        # 3-5: 16x16
        nn.Conv2d(c2, c3, 4, 2, 1), act(), nn.Dropout(cfg.dropout),        # 6-8: 8x8
        nn.Flatten(), nn.Linear(c3 * 8 * 8, h), act(), nn.Dropout(cfg.dropout),  # 9-12
    )


#: block outputs (after LeakyReLU) of the shared trunk layout
_TRUNK_ALIASES = {"conv1": "trunk.1", "conv2": "trunk.4", "conv3": "trunk.7", "fc": "trunk.11"}


class Encoder(nn.Module):
    """images (N, 3, 64, 64) -> (label logits (N, A), latent (N, nz)).

    ``sigmoid`` of the label logits is the Keras model's label output (what G receives in
    the auto-encoder path); the latent is an unconstrained linear output.
    """

    aliases = {**_TRUNK_ALIASES, "labels": "labels", "latent": "latent"}

    def __init__(self, config: AEACGANConfig = AEACGANConfig()):
        super().__init__()
        self.config = config
        self.trunk = _trunk(config)
        h = config.channels(128)
        self.labels = nn.Linear(h, config.n_attributes)
        self.latent = nn.Linear(h, config.nz)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.trunk(x)
        return self.labels(f), self.latent(f)


class Generator(nn.Module):
    """(latent z (N, nz), labels (N, A) in [0, 1]) -> images (N, 3, 64, 64) in [-1, 1].

    Called with z alone (as the DCGAN's G is, by sampling, generator analysis, editing and
    MIA code) it uses ``default_labels``, a buffer saved with the weights: the most common
    label row of the training set. ``FixedLabelGenerator`` fixes any other row.
    """

    conditional = True
    aliases = {"fc": "fc.1", "block1": "main.1", "block2": "main.4", "block3": "main.7", "image": "main.11"}

    def __init__(self, config: AEACGANConfig = AEACGANConfig()):
        super().__init__()
        self.config = config
        c1, c2, c3 = config.channels(32), config.channels(64), config.channels(128)
        self._c3 = c3
        self.fc = nn.Sequential(nn.Linear(config.n_attributes + config.nz, c3 * 8 * 8),
                                nn.LeakyReLU(config.slope), nn.Dropout(config.dropout))
        act = lambda: nn.LeakyReLU(config.slope)  # noqa: E731
        self.main = nn.Sequential(
            nn.ConvTranspose2d(c3, c3, 4, 2, 1), act(), nn.Dropout(config.dropout),   # 0-2: 16x16
            nn.ConvTranspose2d(c3, c2, 4, 2, 1), act(), nn.Dropout(config.dropout),   # 3-5: 32x32
            nn.ConvTranspose2d(c2, c1, 4, 2, 1), act(), nn.Dropout(config.dropout),   # 6-8: 64x64
            nn.ZeroPad2d((3, 4, 3, 4)), nn.Conv2d(c1, config.nc, 8, 1, 0), nn.Tanh(),  # 9-11
        )
        self.register_buffer("default_labels", torch.zeros(config.n_attributes))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if z.dim() == 4:
            z = z.flatten(1)
        if labels is None:
            labels = self.default_labels.expand(z.shape[0], -1)
        labels = torch.as_tensor(labels, dtype=z.dtype, device=z.device)
        if labels.dim() == 1:
            labels = labels.expand(z.shape[0], -1)
        if labels.shape != (z.shape[0], self.config.n_attributes):
            raise XaiprobeError(f"labels: shape {tuple(labels.shape)} for {z.shape[0]} latents; the generator "
                                f"needs ({z.shape[0]}, {self.config.n_attributes}) label rows in [0, 1]")
        h = self.fc(torch.cat([labels, z], dim=1))
        return self.main(h.view(-1, self._c3, 8, 8))


class Discriminator(nn.Module):
    """images (N, 3, 64, 64) -> real/fake logits (N,) (real = high).

    The auxiliary head's attribute logits (N, A) come from ``aux_logits(x)``, or both at
    once from ``forward_all(x)`` / ``forward(x, with_aux=True)``.
    """

    #: conv1..conv3 and fc: trunk block outputs after LeakyReLU; logit and aux: the two heads
    aliases = {**_TRUNK_ALIASES, "logit": "logit", "aux": "aux"}

    def __init__(self, config: AEACGANConfig = AEACGANConfig()):
        super().__init__()
        self.config = config
        self.trunk = _trunk(config)
        h = config.channels(128)
        self.logit = nn.Linear(h, 1)
        self.aux = nn.Linear(h, config.n_attributes)

    def forward(self, x: torch.Tensor, with_aux: bool = False):
        f = self.trunk(x)
        logit, aux = self.logit(f).squeeze(1), self.aux(f)  # both heads run: hooks on "aux" see D(x)
        return (logit, aux) if with_aux else logit

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real/fake logits (N,), attribute logits (N, A)) in one pass."""
        return self(x, with_aux=True)

    def aux_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Attribute logits (N, A) of the auxiliary classifier."""
        return self(x, with_aux=True)[1]


class FixedLabelGenerator(nn.Module):
    """z (N, nz) -> G(z, labels): a conditional generator with one label row fixed.

    For code that calls ``G(z)`` with latents only. The wrapped generator is shared, not copied.

    Parameters
    ----------
    generator : Generator
    labels : Tensor (A,)
        The label row (values in [0, 1]).
    """

    def __init__(self, generator: Generator, labels):
        super().__init__()
        self.generator = generator
        labels = torch.as_tensor(labels, dtype=torch.float32).reshape(-1)
        if labels.numel() != generator.config.n_attributes:
            raise XaiprobeError(f"labels: {labels.numel()} values; the generator needs one row of "
                                f"{generator.config.n_attributes}")
        self.register_buffer("labels", labels)
        self.config = generator.config

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z, self.labels)


class AEACGAN(nn.Module):
    """The three networks of an AE-ACGAN: ``encoder``, ``generator``, ``discriminator``."""

    def __init__(self, config: AEACGANConfig = AEACGANConfig()):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Auto-encoder path: x -> encoder -> (sigmoid labels, latent) -> generator."""
        label_logits, z = self.encoder(x)
        return self.generator(z, torch.sigmoid(label_logits))


def weights_init(m: nn.Module) -> None:
    """Keras defaults: Glorot-uniform weights, zero biases."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def build_aeacgan(n_attributes: int | None = None, nz: int | None = None, *, width: float | None = None,
                  config: AEACGANConfig | dict | None = None, seed: int | None = None, **kwargs) -> AEACGAN:
    """A freshly initialized AE-ACGAN; ``seed`` makes the initialization deterministic.

    Parameters
    ----------
    n_attributes, nz, width : optional
        Override the config's (defaults A=40, nz=200, width=1).
    config : AEACGANConfig or dict, optional
    seed : int, optional
    **kwargs
        Other AEACGANConfig fields (dropout, slope).
    """
    if isinstance(config, dict):
        config = AEACGANConfig.from_dict(config)
    base = (config or AEACGANConfig()).to_dict()
    over = {"n_attributes": n_attributes, "nz": nz, "width": width, **kwargs}
    unknown = sorted(k for k in over if k not in AEACGANConfig.__dataclass_fields__)
    if unknown:
        raise XaiprobeError(f"build_aeacgan: unknown option(s) {', '.join(unknown)}; "
                            f"use {', '.join(AEACGANConfig.__dataclass_fields__)}")
    config = AEACGANConfig(**{**base, **{k: v for k, v in over.items() if v is not None}})
    with torch.random.fork_rng(enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        model = AEACGAN(config)
        model.apply(weights_init)
    return model

"""A toy GAN pair with planted attributes, and an oracle that reads them.

``BlobGenerator`` draws 16x16 images: a background whose brightness, vertical and horizontal
gradients and three coloured blobs (A red top-left, B green top-right, C blue bottom) are set
by fixed coordinates of a rotated latent ``m = R z`` (R a seeded orthogonal matrix, so two
generators' latent spaces are unaligned, as for independently trained GANs). A client built
with ``remove=("C",)`` never draws blob C: "BlobC" is missing from it. ``BlobOracle`` reads
blob contrasts, brightness and the vertical gradient from the pixels.
"""
from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

SIZE = 16
NZ = 8
NAMES = ["BlobA", "BlobB", "BlobC", "Bright", "TopDark"]
CENTERS = {"A": (4.0, 4.0), "B": (4.0, 11.0), "C": (11.5, 7.5)}
COLORS = {"A": (1.0, -0.3, -0.3), "B": (-0.3, 1.0, -0.3), "C": (-0.3, -0.3, 1.0)}
#: rotated-latent coordinate of each factor
COORD = {"A": 0, "B": 1, "C": 2, "bright": 3, "vgrad": 4, "hgrad": 5}


def _grid():
    y, x = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32),
                          indexing="ij")
    return y, x


def blob_mask(name: str, radius: float = 2.2) -> torch.Tensor:
    y, x = _grid()
    cy, cx = CENTERS[name]
    return torch.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius ** 2))


class BlobGenerator(nn.Module):
    """z (n, 8) -> images (n, 3, 16, 16) in [-1, 1] with planted, latent-controlled blobs."""

    def __init__(self, seed: int = 0, remove=()):
        super().__init__()
        self.config = SimpleNamespace(nz=NZ)
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(NZ, NZ, generator=g))
        self.rotate = nn.Linear(NZ, NZ, bias=False)
        with torch.no_grad():
            self.rotate.weight.copy_(q)
        self.rotate.weight.requires_grad_(False)
        self.remove = tuple(remove)
        for name in CENTERS:
            self.register_buffer(f"mask_{name}", blob_mask(name))
        y, x = _grid()
        self.register_buffer("vgrad", (y / (SIZE - 1) - 0.5))
        self.register_buffer("hgrad", (x / (SIZE - 1) - 0.5))

    def forward(self, z):
        m = self.rotate(z.flatten(1))
        bright = 0.35 * torch.tanh(m[:, COORD["bright"]])
        img = (-0.3 + bright)[:, None, None, None].expand(-1, 3, SIZE, SIZE)
        img = img + 0.5 * torch.tanh(m[:, COORD["vgrad"]])[:, None, None, None] * self.vgrad
        img = img + 0.5 * torch.tanh(m[:, COORD["hgrad"]])[:, None, None, None] * self.hgrad
        for name in CENTERS:
            if name in self.remove:
                continue
            a = torch.sigmoid(3 * m[:, COORD[name]])
            color = torch.tensor(COLORS[name])
            img = img + a[:, None, None, None] * color[None, :, None, None] * getattr(self, f"mask_{name}")
        return torch.tanh(1.2 * img)


class BlobOracle(nn.Module):
    """Attribute logits (n, 5) read from the pixels: blob contrasts, brightness, top darkness."""

    def __init__(self):
        super().__init__()
        self.attribute_names = list(NAMES)
        for name in CENTERS:
            self.register_buffer(f"mask_{name}", blob_mask(name) / blob_mask(name).sum())
        y, _ = _grid()
        self.register_buffer("top", (y < 4).float() / (y < 4).float().sum())
        self.register_buffer("bottom", (y >= 12).float() / (y >= 12).float().sum())
        self.head = nn.Linear(5, 5)
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(5) * 4)
            self.head.bias.zero_()

    def features(self, x):
        mean = x.mean(dim=(2, 3))                      # (n, 3)
        out = []
        for name in CENTERS:
            c = "ABC".index(name)
            inside = (x[:, c] * getattr(self, f"mask_{name}")).sum(dim=(1, 2))
            others = (x[:, [i for i in range(3) if i != c]].mean(1) * getattr(self, f"mask_{name}")).sum(dim=(1, 2))
            out.append(inside - others)
        out.append(mean.mean(1))
        g = x.mean(1)
        out.append((g * self.bottom).sum(dim=(1, 2)) - (g * self.top).sum(dim=(1, 2)))
        return torch.stack(out, 1)

    def forward(self, x):
        return self.head(self.features(x))


def make_pair(seed: int = 0):
    """(reference with blobs A, B, C; client without C, an unaligned latent space)."""
    return BlobGenerator(seed), BlobGenerator(seed + 100, remove=("C",))


def toy_factory():
    """A no-argument factory for the plugin path (``tests/audit/toy.py:toy_factory``)."""
    return BlobGenerator(3)

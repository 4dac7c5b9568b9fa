"""The small convolutional feature extractor of the random-init and self-supervised feature spaces."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: random / selfsup CNNs see images at most this large (area downsampling): 4x cheaper at 64x64
CNN_SIZE = 32


class SmallCNN(nn.Module):
    """Four 4x4 stride-2 convolutions (w, 2w, 4w, 8w channels) with LeakyReLU, pooled to ``pool`` x ``pool``.

    Images larger than ``size`` are area-downsampled to ``size`` first. Output (N, 8w·pool²).
    """

    def __init__(self, width: int = 32, pool: int = 2, size: int = CNN_SIZE, nc: int = 3):
        super().__init__()
        w = int(width)
        self.width, self.pool_size, self.size = w, int(pool), int(size)
        chans = [nc, w, 2 * w, 4 * w, 8 * w]
        layers = []
        for i in range(4):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(self.pool_size)
        self.dim = 8 * w * self.pool_size ** 2
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > self.size or x.shape[-2] > self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="area")
        return self.pool(self.net(x)).flatten(1)

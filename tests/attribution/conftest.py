"""Fixtures for the attribution tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(8, 3, 64, 64, generator=g) * 2 - 1


@pytest.fixture
def tiny_d():
    from xaiprobe.testing.models import tiny_dcgan

    return tiny_dcgan(0)[1]

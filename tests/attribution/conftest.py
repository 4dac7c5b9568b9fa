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


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """RUN/checkpoints/last.pt of an untrained tiny DCGAN on 40 SynthFaces (spec synthfaces:40:0)."""
    from xaiprobe.testing.data import tiny_faces
    from xaiprobe.testing.models import tiny_checkpoint

    root = tmp_path_factory.mktemp("tiny-run")
    mp = pytest.MonkeyPatch()
    mp.setenv("XAIPROBE_CACHE", str(root / "cache"))
    tiny_checkpoint(root / "run" / "checkpoints" / "last.pt", tiny_faces(40))
    yield root / "run"
    mp.undo()

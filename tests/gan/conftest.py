"""Shared fixtures for the GAN tests: a tiny planted data set and one short training run."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from xaiprobe.data.base import ImageSet
from xaiprobe.gan.train import train_gan
from xaiprobe.testing.models import tiny_config


@contextlib.contextmanager
def one_thread():
    """Tiny models run far faster on one intra-op thread on a shared, busy CPU; restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def planted_images(n: int = 48, seed: int = 0) -> ImageSet:
    """Bright red squares on a dark background (easy to tell from an untrained G's gray noise).

    24 train, 12 val, 12 test rows; ``index`` starts at 1000 so rows and indices differ.
    """
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 40, (n, 3, 64, 64), dtype=np.uint8)
    for i in range(n):
        y, x = rng.integers(8, 40, 2)
        px[i, 0, y:y + 16, x:x + 16] = 230
    split = np.array(([0] * 2 + [1, 2]) * (n // 4), dtype=np.uint8)
    return ImageSet(px, np.zeros((n, 1), np.int8), ["planted"], split, f"planted:{n}",
                    index=np.arange(1000, 1000 + n, dtype=np.int64))


def colour_coded(n: int = 48, seed: int = 0) -> ImageSet:
    """Labeled planted images: a 24-pixel square, red when ``Red`` = 1 and blue when 0, and a
    second label ``Coin`` that nothing in the image shows. 24 train, 12 val, 12 test rows;
    SynthFaces-like ``info`` with a render version."""
    rng = np.random.default_rng(seed)
    red = (np.arange(n) % 2).astype(np.int8)
    rng.shuffle(red)
    coin = rng.integers(0, 2, n).astype(np.int8)
    px = rng.integers(0, 40, (n, 3, 64, 64), dtype=np.uint8)
    for i in range(n):
        y, x = rng.integers(4, 36, 2)
        px[i, 0 if red[i] else 2, y:y + 24, x:x + 24] = 230
    split = np.array(([0] * 2 + [1, 2]) * (n // 4), dtype=np.uint8)
    return ImageSet(px, np.stack([red, coin], 1), ["Red", "Coin"], split, f"colour:{n}:{seed}",
                    index=np.arange(n, dtype=np.int64), info={"render_version": 1})


@pytest.fixture(scope="session")
def coloured():
    return colour_coded()


@pytest.fixture(scope="session")
def make_planted():
    return planted_images


@pytest.fixture(scope="session")
def planted():
    return planted_images()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, planted):
    """3 epochs (8 steps each) of a tiny DCGAN on the planted data (seed 0, batch 4)."""
    out = tmp_path_factory.mktemp("gan") / "run"
    with one_thread():
        last = train_gan(planted, out, epochs=3, batch_size=4, seed=0, config=tiny_config(), device="cpu",
                         progress=False, sample_count=16, command="pytest")
    return out, last

"""Tiny deterministic DCGANs and checkpoints for tests (width 4, latent size 8)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..data.base import ImageSet
from ..gan.checkpoint import save_checkpoint
from ..gan.dcgan import DCGANConfig, Discriminator, Generator, build_dcgan


def tiny_config() -> DCGANConfig:
    """DCGANConfig(nz=8, ngf=4, ndf=4): the smallest useful DCGAN (64x64 images)."""
    return DCGANConfig(nz=8, ngf=4, ndf=4)


def tiny_dcgan(seed: int = 0) -> tuple[Generator, Discriminator]:
    """A freshly initialized tiny (G, D) pair, identical for the same seed."""
    return build_dcgan(tiny_config(), seed=seed)


def tiny_checkpoint(path: str | os.PathLike, data: ImageSet, seed: int = 0, epochs: int = 0,
                    batch_size: int = 16) -> Path:
    """Write a real xaiprobe checkpoint of a tiny DCGAN to ``path``.

    ``members`` are the ``index`` values of ``data``'s train-split rows. With ``epochs`` = 0
    the weights are the seeded initialization; with ``epochs`` > 0 the pair is trained with
    ``train_gan`` (in a temporary run directory) and its ``last.pt`` is copied to ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if epochs > 0:
        from ..gan.train import train_gan

        with tempfile.TemporaryDirectory(prefix="xaiprobe-tiny-") as tmp:
            last = train_gan(data, Path(tmp) / "run", epochs=epochs, batch_size=batch_size, seed=seed,
                             config=tiny_config(), device="cpu", progress=False, sample_count=16,
                             command="xaiprobe.testing.models.tiny_checkpoint")
            shutil.copyfile(last, path)
        return path
    G, D = tiny_dcgan(seed)
    members = data.index[data.rows_of("train")]
    return save_checkpoint(path, arch=tiny_config().to_dict(), generator=G.state_dict(),
                           discriminator=D.state_dict(), epoch=0,
                           data={"spec": data.spec, "split": "train", "max_images": None},
                           members=members, extra={"seed": int(seed)})

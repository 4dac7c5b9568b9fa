"""Training the DCGAN with the seed's recipe (the pytorch/examples ``dcgan`` loop).

Adam (lr 2e-4, betas (0.5, 0.999)) for both nets, ``BCEWithLogits`` with real label 1 and
fake label 0; D is updated on a real batch and a detached fake batch, then G with the
non-saturating loss (fakes labelled real). After every epoch a checkpoint
``checkpoints/epoch_NNN.pt`` (+ ``last.pt``) and a sample grid ``samples/epoch_NNN.png`` from
fixed latents are written; ``config.json`` records what produced the run.

Randomness is drawn from generators seeded by (seed, epoch), so a run resumed from
``last.pt`` produces the same weights as an uninterrupted one with the same seed.

Multi-process training (``torchrun``): when ``WORLD_SIZE`` > 1 is set, see ``_distributed``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, ensure_writable_dir
from ..data.base import ImageSet, to_float_images
from .checkpoint import load_state_dict_checked, read_checkpoint_dict, save_checkpoint
from .dcgan import DCGANConfig, build_dcgan
from .sampling import save_sample_grid, sample_latents

logger = logging.getLogger(__name__)

#: running means kept per epoch (history) and shown in the progress bar
STAT_NAMES = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")
#: training pixels read from an on-disk store are loaded into memory up to this size
IN_MEMORY_LIMIT = 4 << 30


def train_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               real: torch.Tensor, noise: torch.Tensor, *, autocast_bf16: bool = False,
               d_plain: nn.Module | None = None, d_no_sync=None) -> torch.Tensor:
    """One DCGAN update of D then G, as in pytorch/examples.

    D's parameters are frozen while G's loss is backpropagated through D, so their unused
    gradients are not computed (the reference computes and then discards them).

    Parameters
    ----------
    G, D : nn.Module
        Generator and discriminator (D returns logits (n,)), in train mode.
    opt_g, opt_d : torch.optim.Optimizer
    real : Tensor (n, 3, 64, 64)
        Real images in [-1, 1] on the models' device.
    noise : Tensor (n, nz, 1, 1) or (n, nz)
    autocast_bf16 : bool
        Run the forward passes under ``torch.autocast(..., dtype=torch.bfloat16)``.
    d_plain, d_no_sync : optional
        Distributed training only: the unwrapped D used for G's loss, and D's ``no_sync``.

    Returns
    -------
    Tensor (5,), detached: loss_d, loss_g, D(x), D(G(z)) before and after D's update
    (the last three as mean sigmoid probabilities).
    """
    amp = (lambda: torch.autocast(real.device.type, dtype=torch.bfloat16)) if autocast_bf16 else contextlib.nullcontext
    d_plain = D if d_plain is None else d_plain
    n = real.shape[0]
    ones = torch.ones(n, device=real.device)
    zeros = torch.zeros(n, device=real.device)

    # (1) D: maximize log D(x) + log(1 - D(G(z)))
    opt_d.zero_grad(set_to_none=True)
    with d_no_sync() if d_no_sync is not None else contextlib.nullcontext():
        with amp():
            out_real = D(real).float()
            loss_real = F.binary_cross_entropy_with_logits(out_real, ones)
        loss_real.backward()
    with amp():
        fake = G(noise)
        out_fake = D(fake.detach()).float()
        loss_fake = F.binary_cross_entropy_with_logits(out_fake, zeros)
    loss_fake.backward()
    opt_d.step()

    # (2) G: maximize log D(G(z)) (non-saturating)
    opt_g.zero_grad(set_to_none=True)
    params_d = [p for p in d_plain.parameters() if p.requires_grad]
    for p in params_d:
        p.requires_grad_(False)
    try:
        with amp():
            out_g = d_plain(fake).float()
            loss_g = F.binary_cross_entropy_with_logits(out_g, ones)
        loss_g.backward()
    finally:
        for p in params_d:
            p.requires_grad_(True)
    opt_g.step()
    with torch.no_grad():
        return torch.stack([loss_real + loss_fake, loss_g, torch.sigmoid(out_real).mean(),
                            torch.sigmoid(out_fake).mean(), torch.sigmoid(out_g).mean()]).detach()


def make_optimizers(G: nn.Module, D: nn.Module, lr: float = 2e-4, betas=(0.5, 0.999)):
    """The seed's Adam optimizers ``(opt_g, opt_d)``."""
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=tuple(betas)),
            torch.optim.Adam(D.parameters(), lr=lr, betas=tuple(betas)))


def _epoch_seed(seed: int, epoch: int, stream: int, rank: int = 0) -> int:
    """Independent seed for one (run seed, epoch, stream, rank)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, epoch, stream, rank]).generate_state(1)[0])


def _training_rows(data: ImageSet, split, max_images) -> np.ndarray:
    rows = data.rows_of(split)
    if max_images is not None:
        if int(max_images) < 1:
            raise XaiprobeError(f"max_images {max_images}: must be >= 1")
        rows = rows[: int(max_images)]
    if rows.size == 0:
        raise XaiprobeError(f"data set {data.spec}: split {split!r} has no images to train on; "
                            "choose another --split or a larger data set")
    return rows


def _training_pixels(data: ImageSet, rows: np.ndarray):
    """uint8 pixels of ``rows`` in memory when they fit, else None (read batch by batch)."""
    if isinstance(data.pixels, np.ndarray):
        return data.pixels if rows.size == len(data) else data.pixels[rows]
    nbytes = rows.size * int(np.prod(data.image_shape))
    if nbytes > IN_MEMORY_LIMIT:
        return None
    out = np.empty((rows.size, *data.image_shape), dtype=np.uint8)
    lo, step = 0, 4096
    while lo < rows.size:  # contiguous block reads: fast for HDF5 stores
        r = rows[lo:lo + step]
        block = np.asarray(data.pixels[int(r[0]):int(r[-1]) + 1])
        out[lo:lo + r.size] = block[r - r[0]]
        lo += r.size
    return out


def _versions() -> dict:
    from .. import __version__
    try:
        import torchvision
        tv = torchvision.__version__
    except ImportError:  # pragma: no cover
        tv = None
    return {"xaiprobe": __version__, "torch": torch.__version__, "torchvision": tv,
            "numpy": np.__version__, "python": platform.python_version()}


def _write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, default=str))


def _check_resume(raw: dict, path: Path, arch: dict, data_info: dict, members: np.ndarray) -> None:
    if raw.get("arch") != arch:
        diff = sorted(k for k in set(arch) | set(raw.get("arch", {})) if arch.get(k) != raw.get("arch", {}).get(k))
        raise XaiprobeError(f"resume {path}: the architecture differs from the checkpoint's ({', '.join(diff)}); "
                            "resume with the same widths and latent size or choose another --out")
    old = raw.get("data", {})
    for key in ("spec", "split", "max_images"):
        if old.get(key) != data_info.get(key):
            raise XaiprobeError(f"resume {path}: data {key} {data_info.get(key)!r} differs from the checkpoint's "
                                f"{old.get(key)!r}; resume with the same --data/--max-images or choose another --out")
    old_members = raw.get("members")
    old_members = np.asarray(old_members.numpy() if torch.is_tensor(old_members) else old_members, dtype=np.int64)
    if not np.array_equal(old_members, members):
        raise XaiprobeError(f"resume {path}: the training images differ from the checkpoint's members "
                            "(the data set changed); choose another --out")


def _distributed(device):
    """torchrun support. Returns (rank, world_size, device, initialized_here).

    With ``WORLD_SIZE`` > 1 in the environment (set by ``torchrun``) the default process group
    is initialized (nccl on CUDA, gloo on CPU), each process uses ``cuda:LOCAL_RANK`` when CUDA
    is present, G and D are wrapped in DistributedDataParallel, every process trains on its own
    1/world_size share of each epoch's shuffled rows with ``batch_size`` images per step, and
    only rank 0 writes files. Otherwise this is a no-op: (0, 1, device, False).
    """
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return 0, 1, device, False
    import torch.distributed as dist
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    here = not dist.is_initialized()
    if here:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device, here


def train_gan(data: ImageSet | str, out_dir: str | os.PathLike, epochs: int = 5, batch_size: int = 128,
              lr: float = 2e-4, betas=(0.5, 0.999), seed: int = 0, config: DCGANConfig | dict | None = None,
              device=None, resume: bool = False, split: str = "train", max_images: int | None = None,
              progress: bool = True, channels_last: bool = False, autocast_bf16: bool = False,
              sample_count: int = 64, command: str | None = None) -> Path:
    """Train the seed DCGAN on ``data`` and write a run directory.

    Parameters
    ----------
    data : ImageSet or str
        The data set, or a data spec for ``xaiprobe.data.load_dataset``.
    out_dir : path
        Run directory: ``config.json``, ``checkpoints/epoch_NNN.pt``, ``checkpoints/last.pt``,
        ``samples/epoch_NNN.png``.
    epochs : int
        Total number of epochs (a resumed run continues up to this number).
    batch_size, lr, betas : training hyperparameters (Adam, the seed's defaults).
    seed : int
        Seeds the initialization, the shuffling and the noise: same seed, same weights.
    config : DCGANConfig or dict, optional
        Architecture (default widths when None; the checkpoint's on resume).
    device : str or torch.device, optional
        Default: CUDA when present.
    resume : bool
        Continue from ``out_dir/checkpoints/last.pt`` (starts fresh if there is none).
    split : str
        Split whose rows are trained on (all of them are the GAN's members).
    max_images : int, optional
        Train on only the first ``max_images`` rows of the split.
    progress : bool
        Show a tqdm progress bar (only on a terminal).
    channels_last, autocast_bf16 : bool
        Opt-in speed-ups: channels-last memory format; bfloat16 autocast of the forward passes.
    sample_count : int
        Images in each epoch's sample grid.
    command : str, optional
        Recorded in config.json (default: this process's command line).

    Returns
    -------
    Path of ``checkpoints/last.pt``.
    """
    from tqdm.auto import tqdm

    if isinstance(data, str):
        from ..data import load_dataset
        data = load_dataset(data)
    if not isinstance(data, ImageSet):
        raise XaiprobeError(f"data: expected an ImageSet or a data spec string, got {type(data).__name__}")
    if tuple(data.image_shape) != (3, 64, 64):
        raise XaiprobeError(f"data set {data.spec}: images are {data.image_shape}, the DCGAN needs (3, 64, 64)")
    if int(epochs) < 0 or int(batch_size) < 1 or not float(lr) > 0:
        raise XaiprobeError(f"training: epochs {epochs}, batch size {batch_size}, lr {lr} must be >= 0, >= 1, > 0")
    rank, world, device, dist_here = _distributed(resolve_device(device))
    out_dir = Path(out_dir)
    ckpt_dir, sample_dir = out_dir / "checkpoints", out_dir / "samples"
    last = ckpt_dir / "last.pt"
    rows = _training_rows(data, split, max_images)
    members = data.index[rows]
    data_info = {"spec": data.spec, "split": split, "max_images": None if max_images is None else int(max_images)}

    raw = None
    if resume and last.is_file():
        raw = read_checkpoint_dict(last)
        if config is None:
            config = raw.get("arch")
    elif not resume and ckpt_dir.is_dir() and any(ckpt_dir.glob("*.pt")):
        raise XaiprobeError(f"output directory {out_dir}: already holds checkpoints; pass --resume (resume=True) "
                            "to continue that run or choose another --out")
    elif resume:
        logger.info("resume: no %s yet; starting a new run", last)
    config = DCGANConfig.from_dict(config) if isinstance(config, dict) else (config or DCGANConfig())
    if min(config.nz, config.ngf, config.ndf) < 1:
        raise XaiprobeError(f"architecture nz={config.nz} ngf={config.ngf} ndf={config.ndf}: sizes must be >= 1")
    arch = config.to_dict()
    G, D = build_dcgan(config, seed=seed)
    opt_g, opt_d = make_optimizers(G, D, lr, betas)
    start, history, time_before = 0, [], 0.0
    if raw is not None:
        _check_resume(raw, last, arch, data_info, members)
        load_state_dict_checked(G, raw["generator"], f"resume {last} (generator)")
        load_state_dict_checked(D, raw["discriminator"], f"resume {last} (discriminator)")
        opts = raw.get("optimizers") or {}
        if "generator" in opts and "discriminator" in opts:
            for opt, state in ((opt_g, opts["generator"]), (opt_d, opts["discriminator"])):
                opt.load_state_dict(state)
                for group in opt.param_groups:  # this call's lr and betas apply from here on
                    group["lr"], group["betas"] = float(lr), tuple(betas)
        else:
            logger.warning("resume %s: no optimizer state in the checkpoint; Adam restarts", last)
        start = int(raw.get("epoch", 0))
        extra = raw.get("extra") or {}
        history = list(extra.get("history", []))
        time_before = float(extra.get("time_s", 0.0))
    G.to(device).train()
    D.to(device).train()
    if channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    for opt in (opt_g, opt_d):  # optimizer state follows the parameters' device
        for st in opt.state.values():
            for k, v in st.items():
                if torch.is_tensor(v) and k != "step":
                    st[k] = v.to(device)

    hparams = {"epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr), "betas": list(betas),
               "optimizer": "Adam", "loss": "BCEWithLogits, non-saturating G", "channels_last": bool(channels_last),
               "autocast_bf16": bool(autocast_bf16), "world_size": world}
    if rank == 0:
        ensure_writable_dir(ckpt_dir)
        ensure_writable_dir(sample_dir)
        cfg_path = out_dir / "config.json"
        record = {"command": command if command is not None else " ".join(sys.argv), "seed": int(seed),
                  "versions": _versions(), "arch": arch, "data": {**data_info, "n_train": int(rows.size)},
                  "hyperparameters": hparams, "device": str(device),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if raw is not None and cfg_path.is_file():
            with contextlib.suppress(ValueError, OSError):
                old = json.loads(cfg_path.read_text())
                record = {**old, "resumed": list(old.get("resumed", [])) + [
                    {"from_epoch": start, "command": record["command"], "hyperparameters": hparams,
                     "time": record["created"]}]}
        _write_json(cfg_path, record)

    G_run, D_run, d_no_sync = G, D, None
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        ids = [device.index] if device.type == "cuda" else None
        G_run, D_run = DDP(G, device_ids=ids), DDP(D, device_ids=ids)
        d_no_sync = D_run.no_sync
    pixels = _training_pixels(data, rows)
    fixed_seed = int(seed)
    t0 = time.perf_counter()
    for epoch in range(start, int(epochs)):
        perm = torch.randperm(rows.size, generator=torch.Generator().manual_seed(_epoch_seed(seed, epoch, 0))).numpy()
        if world > 1:  # equal shards so every process takes the same number of steps
            perm = perm[: rows.size // world * world][rank::world]
        noise_gen = torch.Generator(device=device).manual_seed(_epoch_seed(seed, epoch, 1, rank))
        n_batches = -(-perm.size // batch_size)
        sums = torch.zeros(len(STAT_NAMES), dtype=torch.float64, device=device)
        bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False,
                   disable=True if not progress or rank != 0 else None)
        for b in range(n_batches):
            pos = perm[b * batch_size:(b + 1) * batch_size]
            real = to_float_images(pixels[pos]) if pixels is not None else data.images(rows[pos])
            real = real.to(device, non_blocking=True)
            if channels_last:
                real = real.contiguous(memory_format=torch.channels_last)
            noise = torch.randn(pos.size, config.nz, 1, 1, generator=noise_gen, device=device)
            stats = train_step(G_run, D_run, opt_g, opt_d, real, noise, autocast_bf16=autocast_bf16,
                               d_plain=D, d_no_sync=d_no_sync)
            sums += stats
            if bar.disable is False and (b % 10 == 0 or b == n_batches - 1):
                bar.set_postfix(loss_d=f"{stats[0].item():.3f}", loss_g=f"{stats[1].item():.3f}", refresh=False)
            bar.update(1)
        bar.close()
        means = (sums / max(n_batches, 1)).tolist()
        row = {"epoch": epoch + 1, **dict(zip(STAT_NAMES, means)), "images": int(perm.size) * world,
               "time_s": time_before + time.perf_counter() - t0}
        history.append(row)
        logger.info("epoch %d/%d: loss_d %.4f loss_g %.4f D(x) %.3f D(G(z)) %.3f/%.3f", epoch + 1, epochs, *means)
        if rank == 0:
            path = ckpt_dir / f"epoch_{epoch + 1:03d}.pt"
            save_checkpoint(
                path, arch=arch, generator=G.state_dict(), discriminator=D.state_dict(), epoch=epoch + 1,
                data=data_info, members=members,
                optimizers={"generator": opt_g.state_dict(), "discriminator": opt_d.state_dict()},
                extra={"seed": int(seed), "history": history, "time_s": row["time_s"], "hyperparameters": hparams,
                       "sample_seed": fixed_seed})
            with atomic_path(last) as tmp:
                shutil.copyfile(path, tmp)
            save_sample_grid(G, sample_dir / f"epoch_{epoch + 1:03d}.png", n=sample_count,
                             z=sample_latents(sample_count, config.nz, fixed_seed))
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        if dist_here:
            dist.destroy_process_group()
    if not last.is_file() and rank == 0:  # epochs == 0 on a new run: write the initial weights
        save_checkpoint(last, arch=arch, generator=G.state_dict(), discriminator=D.state_dict(), epoch=0,
                        data=data_info, members=members,
                        optimizers={"generator": opt_g.state_dict(), "discriminator": opt_d.state_dict()},
                        extra={"seed": int(seed), "history": history, "time_s": 0.0, "hyperparameters": hparams})
    return last

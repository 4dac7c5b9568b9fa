"""Training a GAN: the DCGAN with the seed's recipe (the pytorch/examples ``dcgan`` loop), or
the AE-ACGAN (``arch="aeacgan"``, its steps in ``aeacgan_train``).

DCGAN: Adam (lr 2e-4, betas (0.5, 0.999)) for both nets, ``BCEWithLogits`` with real label 1
and fake label 0; D is updated on a real batch and a detached fake batch, then G with the
non-saturating loss (fakes labelled real). After every epoch a checkpoint
``checkpoints/epoch_NNN.pt`` (+ ``last.pt``) and a sample grid ``samples/epoch_NNN.png`` from
fixed latents are written; ``config.json`` records what produced the run.

Randomness is drawn from generators seeded by (seed, epoch) (the global torch generator, which
dropout uses, is seeded per epoch inside a forked RNG state), so a run resumed from ``last.pt``
produces the same weights as an uninterrupted one with the same seed.

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

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, ensure_writable_dir
from ..data.base import ImageSet, to_float_images
from .aeacgan_train import RECON_IMAGES, AEACGANRecipe, AEACGANTrainer
from .arch import check_kind as check_arch, resolve_config
from .checkpoint import FORMAT, load_weights, read_checkpoint_dict, save_checkpoint
from .dcgan_train import STAT_NAMES, DCGANTrainer, make_optimizers, train_step  # noqa: F401 (public names)
from .trainset import check_data, check_kind, check_resume, training_rows

logger = logging.getLogger(__name__)

#: training pixels read from an on-disk store are loaded into memory up to this size
IN_MEMORY_LIMIT = 4 << 30


def _epoch_seed(seed: int, epoch: int, stream: int, rank: int = 0) -> int:
    """Independent seed for one (run seed, epoch, stream, rank)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, epoch, stream, rank]).generate_state(1)[0])


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


def _fixed_images(data: ImageSet, rows: np.ndarray, n: int) -> torch.Tensor:
    """The first ``n`` test images (else val, else training rows): the reconstructions' inputs."""
    for split in ("test", "val"):
        r = data.rows_of(split)
        if r.size:
            return data.images(r[:n])
    return data.images(rows[:n])


def _read_init(init) -> dict:
    raw = read_checkpoint_dict(init)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise XaiprobeError(f"--init {init}: not an xaiprobe checkpoint; pass a .pt file written by `xaiprobe train`")
    return raw


def train_gan(data: ImageSet | str, out_dir: str | os.PathLike, epochs: int = 5, batch_size: int = 128,
              lr: float = 2e-4, betas=(0.5, 0.999), seed: int = 0, config=None,
              device=None, resume: bool = False, split: str = "train", max_images: int | None = None,
              progress: bool = True, channels_last: bool = False, autocast_bf16: bool = False,
              sample_count: int = 64, command: str | None = None, arch: str | None = None, exclude=None,
              init: str | os.PathLike | None = None, recipe: AEACGANRecipe | dict | None = None) -> Path:
    """Train a GAN (the seed DCGAN or the AE-ACGAN) on ``data`` and write a run directory.

    Parameters
    ----------
    data : ImageSet or str
        The data set, or a data spec for ``xaiprobe.data.load_dataset``.
    out_dir : path
        Run directory: ``config.json``, ``checkpoints/epoch_NNN.pt``, ``checkpoints/last.pt``,
        ``samples/epoch_NNN.png`` (the AE-ACGAN adds ``samples/recon_epoch_NNN.png``, auto-encoder
        reconstructions of fixed test images, and ``samples/cond_epoch_NNN.png``, one attribute
        switched off / on per pair of rows with the other labels and the latents fixed).
    epochs : int
        Total number of epochs, >= 1 (a resumed run continues up to this number).
    batch_size, lr, betas : training hyperparameters (Adam, the seed's defaults).
    seed : int
        Seeds the initialization, the shuffling and the noise: same seed, same weights.
    config : DCGANConfig, AEACGANConfig or dict, optional
        Architecture (default widths when None; the checkpoint's on resume or with ``init``).
        An AE-ACGAN's ``n_attributes`` is the data set's attribute count.
    device : str or torch.device, optional
        Default: CUDA when present.
    resume : bool
        Continue from ``out_dir/checkpoints/last.pt`` (starts fresh if there is none).
    split : str
        Split whose rows are trained on (all of them are the GAN's members).
    max_images : int, optional
        Train on only the first ``max_images`` rows of the split (after ``exclude``).
    progress : bool
        Show a tqdm progress bar (only on a terminal).
    channels_last, autocast_bf16 : bool
        Opt-in speed-ups: channels-last memory format; bfloat16 autocast of the forward passes.
    sample_count : int
        Images in each epoch's sample grid.
    command : str, optional
        Recorded in config.json (default: this process's command line).
    arch : {"dcgan", "aeacgan"}, optional
        The architecture (default: the config's kind, the resumed or ``init`` checkpoint's, else dcgan).
    exclude : str or list of str, optional
        Leave out training images with these labels: ``"Eyeglasses"`` (= ``Eyeglasses=1``) drops
        images with eyeglasses, ``"Male=1"`` male faces, ``"Male=0"`` female ones; several are
        comma-separated. Recorded in the checkpoint's data record; members are the rows kept.
    init : path, optional
        Start G and D (and the AE-ACGAN's encoder) from this checkpoint's weights (fine-tuning;
        fresh optimizers); its architecture must match. Ignored when resuming from ``last.pt``.
    recipe : AEACGANRecipe or dict, optional
        AE-ACGAN training options (label smoothing, D input noise, auto-encoder step).

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
        raise XaiprobeError(f"data set {data.spec}: images are {data.image_shape}, the GANs need (3, 64, 64)")
    if int(epochs) < 1:
        raise XaiprobeError(f"epochs {epochs}: must be >= 1 (a resumed run trains up to this total); "
                            "pass at least 1")
    if int(batch_size) < 1 or not float(lr) > 0:
        raise XaiprobeError(f"training: batch size {batch_size}, lr {lr} must be >= 1, > 0")
    if isinstance(recipe, dict):
        recipe = AEACGANRecipe(**recipe)
    rank, world, device, dist_here = _distributed(resolve_device(device))
    out_dir = Path(out_dir)
    ckpt_dir, sample_dir = out_dir / "checkpoints", out_dir / "samples"
    last = ckpt_dir / "last.pt"
    rows, data_info = training_rows(data, split, max_images, exclude)
    members = data.index[rows]

    raw = init_raw = None
    if resume and last.is_file():
        raw = read_checkpoint_dict(last)
    elif not resume and ckpt_dir.is_dir() and any(ckpt_dir.glob("*.pt")):
        raise XaiprobeError(f"output directory {out_dir}: already holds checkpoints; pass --resume (resume=True) "
                            "to continue that run or choose another --out")
    elif resume:
        logger.info("resume: no %s yet; starting a new run", last)
    if raw is not None:
        if arch is not None:
            check_kind(raw, last, check_arch(arch))
        check_data(raw, f"resume {last}", data_info)
    if init is not None and raw is None:
        init_raw = _read_init(init)
    config = resolve_config(arch, config, len(data.attribute_names), resumed=raw, init=init_raw, init_path=init)
    if recipe is not None and config.name != "aeacgan":
        raise XaiprobeError("AE-ACGAN training options (--d-noise, --real-label, --no-autoencoder ...): "
                            "only for --arch aeacgan")
    arch_dict = config.to_dict()
    if raw is not None:
        check_resume(raw, last, arch_dict, data_info, members)
    labels_all = torch.as_tensor(data.labels[rows], dtype=torch.float32)
    if config.name == "aeacgan":
        trainer = AEACGANTrainer(config, seed, lr, betas, recipe or AEACGANRecipe(), labels_all,
                                 _fixed_images(data, rows, RECON_IMAGES), sample_count, seed, data.attribute_names)
    else:
        trainer = DCGANTrainer(config, seed, lr, betas, sample_count, seed)
    start, history, time_before, init_info = 0, [], 0.0, None
    if raw is not None:
        load_weights(trainer.modules, raw, f"resume {last}")
        opts = raw.get("optimizers") or {}
        if all(k in opts for k in trainer.optimizers):
            for name, opt in trainer.optimizers.items():
                opt.load_state_dict(opts[name])
                for group in opt.param_groups:  # this call's lr and betas apply from here on
                    group["lr"], group["betas"] = trainer.lrs[name], tuple(betas)
        else:
            logger.warning("resume %s: no optimizer state in the checkpoint; Adam restarts", last)
        start = int(raw.get("epoch", 0))
        extra = raw.get("extra") or {}
        history = list(extra.get("history", []))
        time_before = float(extra.get("time_s", 0.0))
        init_info = extra.get("init")
    else:
        if init_raw is not None:
            load_weights(trainer.modules, init_raw, f"--init {init}")
            init_info = {"path": str(init), "epoch": int(init_raw.get("epoch", 0)), "data": init_raw.get("data")}
        if config.name == "aeacgan":
            trainer.set_default_labels()
    for m in trainer.modules.values():
        m.to(device).train()
        if channels_last:
            m.to(memory_format=torch.channels_last)
    for opt in trainer.optimizers.values():  # optimizer state follows the parameters' device
        for st in opt.state.values():
            for k, v in st.items():
                if torch.is_tensor(v) and k != "step":
                    st[k] = v.to(device)

    hparams = {"epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr), "betas": list(betas),
               "optimizer": "Adam", **trainer.hparams(), "channels_last": bool(channels_last),
               "autocast_bf16": bool(autocast_bf16), "world_size": world}
    if rank == 0:
        ensure_writable_dir(ckpt_dir)
        ensure_writable_dir(sample_dir)
        cfg_path = out_dir / "config.json"
        record = {"command": command if command is not None else " ".join(sys.argv), "seed": int(seed),
                  "versions": _versions(), "arch": arch_dict, "data": {**data_info, "n_train": int(rows.size)},
                  "hyperparameters": hparams, "device": str(device), "init": init_info,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if raw is not None and cfg_path.is_file():
            with contextlib.suppress(ValueError, OSError):
                old = json.loads(cfg_path.read_text())
                record = {**old, "resumed": list(old.get("resumed", [])) + [
                    {"from_epoch": start, "command": record["command"], "hyperparameters": hparams,
                     "time": record["created"]}]}
        _write_json(cfg_path, record)

    trainer.prepare(device, world)
    pixels = _training_pixels(data, rows)
    rng_devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    t0 = time.perf_counter()
    q_fixed = None  # held-out real images, latents and features of the per-epoch sample quality
    for epoch in range(start, int(epochs)):
        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(_epoch_seed(seed, epoch, 2, rank))  # dropout masks
            perm = torch.randperm(rows.size, generator=torch.Generator().manual_seed(_epoch_seed(seed, epoch, 0))).numpy()
            if world > 1:  # equal shards so every process takes the same number of steps
                perm = perm[: rows.size // world * world][rank::world]
            noise_gen = torch.Generator(device=device).manual_seed(_epoch_seed(seed, epoch, 1, rank))
            n_batches = -(-perm.size // batch_size)
            sums = None
            bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False,
                       disable=True if not progress or rank != 0 else None)
            for b in range(n_batches):
                pos = perm[b * batch_size:(b + 1) * batch_size]
                real = to_float_images(pixels[pos]) if pixels is not None else data.images(rows[pos])
                real = real.to(device, non_blocking=True)
                if channels_last:
                    real = real.contiguous(memory_format=torch.channels_last)
                stats = trainer.step(real, labels_all[pos].to(device), noise_gen, autocast_bf16=autocast_bf16)
                sums = stats.double() if sums is None else sums + stats
                if bar.disable is False and (b % 10 == 0 or b == n_batches - 1):
                    bar.set_postfix(loss_d=f"{stats[0].item():.3f}", loss_g=f"{stats[1].item():.3f}", refresh=False)
                bar.update(1)
            bar.close()
        row = {"epoch": epoch + 1, **trainer.summarize(sums, n_batches), "images": int(perm.size) * world,
               "time_s": time_before + time.perf_counter() - t0}
        if rank == 0:  # sample quality on a fixed held-out sample (FD, precision/recall, D's real-vs-G AUC)
            try:
                from .quality import epoch_metrics, feature_module
                from .sampling import latent_size, sample_latents
                if q_fixed is None:
                    real_q = _fixed_images(data, rows, 256)
                    q_fixed = (real_q, sample_latents(len(real_q), latent_size(trainer.modules["generator"]), seed + 1),
                               feature_module(None, device))
                row.update(epoch_metrics(trainer.modules["generator"], trainer.modules["discriminator"], *q_fixed))
            except XaiprobeError as exc:
                logger.warning("epoch %d: sample quality not measured (%s)", epoch + 1, exc)
        history.append(row)
        logger.info("epoch %d/%d: %s", epoch + 1, epochs,
                    " ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "images", "time_s")))
        if rank == 0:
            path = ckpt_dir / f"epoch_{epoch + 1:03d}.pt"
            states = {k: m.state_dict() for k, m in trainer.modules.items()}
            save_checkpoint(
                path, arch=arch_dict, generator=states["generator"], discriminator=states["discriminator"],
                encoder=states.get("encoder"), epoch=epoch + 1, data=data_info, members=members,
                optimizers={k: opt.state_dict() for k, opt in trainer.optimizers.items()},
                extra={"seed": int(seed), "history": history, "time_s": row["time_s"], "hyperparameters": hparams,
                       "sample_seed": int(seed), "init": init_info})
            with atomic_path(last) as tmp:
                shutil.copyfile(path, tmp)
            trainer.write_images(sample_dir, epoch + 1)
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        if dist_here:
            dist.destroy_process_group()
    return last

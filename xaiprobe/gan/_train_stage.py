"""`xaiprobe train`: train a GAN (the seed DCGAN or the AE-ACGAN) and report its training.

The section shows G's samples, the loss and D-output curves per epoch, and, when the run
recorded them, sample quality per epoch (Fréchet distance and precision/recall in the
classifier's feature space) with D's real-vs-generated ROC-AUC on held-out real images.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .._layout import stage_dir
from .._utils.errors import XaiprobeError
from .._utils.figures import savefig, styled, subplots
from .._utils.numeric import finite, fmt
from ..config import StageConfig, param
from ..report import Figure, Section, Table
from .arch import KINDS, LABELS

NAME = "train"
TITLE = "Training"
ORDER = 10
HELP = "train a GAN (the seed DCGAN or the AE-ACGAN) on a data set (checkpoints + samples every epoch)"

log = logging.getLogger(__name__)

_AEACGAN_ONLY = ("width", "dropout", "real_label", "d_noise", "ae_lr_scale", "ae_label_weight")
_DCGAN_ONLY = ("ngf", "ndf")


@dataclass
class Config(StageConfig):
    """Train the seed DCGAN (Adam 2e-4, betas (0.5, 0.999), BCE with logits) or, with --arch aeacgan,
    the auto-encoder + auxiliary-classifier GAN; writes RUN/config.json, RUN/checkpoints/epoch_NNN.pt +
    last.pt and RUN/samples/. Under torchrun (WORLD_SIZE > 1) it trains data-parallel."""

    stage = NAME
    data: str = param(None, "data spec: synthfaces[:N[:SEED]][:attrs=all], digits, celeba:DIR, STORE.h5", required=True)
    arch: str = param(None, "architecture (default dcgan; on --resume or --init the checkpoint's)", choices=KINDS)
    epochs: int = param(5, "total epochs (a resumed run continues up to this)", low=1)
    batch_size: int = param(128, "images per step (per process under torchrun)", low=1)
    lr: float = param(2e-4, "Adam learning rate", low=0, low_open=True)
    seed: int = param(0, "seed of initialization, shuffling and noise", low=0)
    nz: int = param(None, "latent size (dcgan 128, aeacgan 200)", low=1)
    ngf: int = param(None, "DCGAN generator base width (64)", low=1)
    ndf: int = param(None, "DCGAN discriminator base width (64)", low=1)
    width: float = param(None, "AE-ACGAN width multiplier of every channel count (1 = the original)",
                         low=0, low_open=True)
    dropout: float = param(None, "AE-ACGAN dropout rate after each LeakyReLU (0.25)", low=0, high=1, high_open=True)
    device: str = param(None, "cpu, cuda or cuda:N (CUDA when present)")
    split: str = param("train", "split to train on; its images are the members", choices=("train", "val", "test", "all"))
    max_images: int = param(None, "train on only the first N images of the split", low=1)
    exclude: tuple[str, ...] = param((), "leave out training images with these labels: ATTR (= ATTR=1) drops "
                                         "images that have it, ATTR=0 those without it (Male=1 keeps female faces)")
    init: str = param(None, "start G and D (and the AE-ACGAN's encoder) from this checkpoint (fine-tuning, fresh "
                            "optimizers, same architecture)", path=True)
    resume: bool = param(False, "continue from RUN/checkpoints/last.pt")
    real_label: float = param(None, "AE-ACGAN: D's target for real images, one-sided smoothing (0.9)", low=0, high=1)
    d_noise: float = param(None, "AE-ACGAN: standard deviation of Gaussian noise on D's input (0: none)", low=0)
    no_autoencoder: bool = param(False, "AE-ACGAN ablation: skip the auto-encoder step")
    ae_lr_scale: float = param(None, "AE-ACGAN: auto-encoder learning rate / --lr (0.25)", low=0, low_open=True)
    ae_label_weight: float = param(None, "AE-ACGAN: weight of the encoder's label BCE (1; 0 = reconstruction only)",
                                   low=0)
    channels_last: bool = param(False, "channels-last memory format (opt-in speed-up)")
    bf16: bool = param(False, "bfloat16 autocast of the forward passes (opt-in speed-up)")
    threads: int = param(None, "CPU threads for torch (1-2 is faster on a busy machine)", low=1)
    dry_run: bool = param(False, "smoke test: 1 epoch over 2 batches with tiny nets")

    def check(self) -> None:
        dcgan_only = [f"--{k}" for k in _DCGAN_ONLY if getattr(self, k) is not None]
        ae_only = [f"--{k.replace('_', '-')}" for k in _AEACGAN_ONLY if getattr(self, k) is not None]
        ae_only += ["--no-autoencoder"] if self.no_autoencoder else []
        if self.arch == "aeacgan" and dcgan_only:
            raise XaiprobeError(f"{', '.join(dcgan_only)}: DCGAN options; size the AE-ACGAN with --width and --nz")
        if self.arch == "dcgan" and ae_only:
            raise XaiprobeError(f"{', '.join(ae_only)}: AE-ACGAN options; pass --arch aeacgan or drop them")


@dataclass
class Result:
    config: Config | None
    checkpoint: Path
    kind: str
    epoch: int
    n_members: int
    data_spec: str
    g_params: int
    d_params: int
    history: list = field(default_factory=list)
    out_dir: Path | None = None
    samples: Path | None = None
    command: str = ""


def run(config: Config, run_dir) -> Result:
    """Train into ``run_dir`` (RUN/checkpoints, RUN/samples, RUN/config.json) and draw the training figures."""
    import torch

    from ..data import load_dataset
    from .train import train_gan

    if config.threads is not None:
        torch.set_num_threads(config.threads)
    epochs, max_images = config.epochs, config.max_images
    widths = {k: getattr(config, k) for k in ("nz", "ngf", "ndf", "width", "dropout")}
    if config.dry_run:
        epochs, max_images = 1, 2 * config.batch_size
        if config.arch == "aeacgan":
            widths.update(nz=config.nz or 16, width=config.width or 0.125)
        else:
            widths.update(nz=config.nz or 16, ngf=config.ngf or 8, ndf=config.ndf or 8)
    arch_config = {k: v for k, v in widths.items() if v is not None} or None
    recipe = {k: getattr(config, k) for k in ("real_label", "d_noise", "ae_lr_scale", "ae_label_weight")
              if getattr(config, k) is not None}
    if config.no_autoencoder:
        recipe["autoencoder"] = False
    data = load_dataset(config.data)
    command = config.command([("--out", str(run_dir))])
    last = train_gan(data, run_dir, epochs=epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                     config=arch_config, device=config.device, resume=config.resume, split=config.split,
                     max_images=max_images, channels_last=config.channels_last, autocast_bf16=config.bf16,
                     command=command, arch=config.arch, exclude=",".join(config.exclude) or None,
                     init=config.init, recipe=recipe or None)
    from .checkpoint import load_checkpoint

    return describe_checkpoint(load_checkpoint(last), stage_dir(run_dir, NAME), command=command, config=config,
                               path=last)


def describe_checkpoint(ck, out_dir, command: str = "", config: Config | None = None, path=None,
                        n: int = 64, seed: int = 0) -> Result:
    """The training Result of a loaded checkpoint (also for a shipped one): sample grid and curves in ``out_dir``."""
    from .dcgan import count_parameters
    from .sampling import save_sample_grid

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_sample_grid(ck.generator, out / "samples.png", n=n, seed=seed)
    history = list((ck.raw.get("extra") or {}).get("history") or [])
    res = Result(config=config, checkpoint=Path(path) if path else Path(""), kind=ck.kind, epoch=ck.epoch,
                 n_members=len(ck.members), data_spec=ck.data.get("spec", "?"),
                 g_params=count_parameters(ck.generator), d_params=count_parameters(ck.discriminator),
                 history=history, out_dir=out, samples=out / "samples.png",
                 command=command or (ck.raw.get("extra") or {}).get("command", ""))
    if history:
        _plot_history(history, out / "history")
        if any(finite(h.get("fd")) for h in history):
            _plot_quality(history, out / "quality")
    return res


#: readable legend entries for the D outputs train_gan records (pytorch/examples dcgan's names)
_D_OUTPUT_LABELS = {"d_x": "D(x), real images", "d_g_z1": "D(G(z)) before D's step",
                    "d_g_z2": "D(G(z)) after D's step", "acc_real": "D accuracy on real",
                    "acc_fake": "D accuracy on generated"}


@styled
def _plot_history(history: list[dict], stem) -> None:
    fig, axes = subplots(1, 2, figsize=(9, 3.2))
    epochs = [h["epoch"] for h in history]
    for key, label in (("loss_d", "D loss"), ("loss_g", "G loss"), ("loss_ae", "auto-encoder L1")):
        if key in history[0]:
            axes[0].plot(epochs, [h[key] for h in history], marker="o", label=label)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("mean loss")
    axes[0].legend()
    for key in [k for k in history[0] if k in _D_OUTPUT_LABELS]:
        axes[1].plot(epochs, [h[key] for h in history], marker="o", label=_D_OUTPUT_LABELS[key])
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("mean sigmoid(D) / accuracy")
    axes[1].set_ylim(0, 1)
    if axes[1].lines:
        axes[1].legend()
    fig.suptitle("Training history")
    savefig(fig, stem)


@styled
def _plot_quality(history: list[dict], stem) -> None:
    fig, axes = subplots(1, 2, figsize=(9, 3.2))
    rows = [h for h in history if finite(h.get("fd"))]
    ep = [h["epoch"] for h in rows]
    axes[0].plot(ep, [h["fd"] for h in rows], marker="o", color="#1d4ed8")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("Fréchet distance (lower is better)")
    for key, label in (("precision", "precision"), ("recall", "recall"), ("d_auc", "D real-vs-generated AUC")):
        vals = [h.get(key) for h in rows]
        if any(finite(v) for v in vals):
            axes[1].plot(ep, vals, marker="o", label=label)
    axes[1].set_ylim(0, 1.02)
    axes[1].set_xlabel("epoch")
    axes[1].legend()
    fig.suptitle("Sample quality per epoch (fixed latents, held-out real images)")
    savefig(fig, stem)


def section(result: Result) -> Section:
    label = LABELS.get(result.kind, result.kind)
    h = result.history
    findings = [f"{label} with G {result.g_params:,} and D {result.d_params:,} parameters, trained {result.epoch} "
                f"epochs on {result.n_members:,} images of {result.data_spec}."]
    numbers = {"epoch": result.epoch, "members": result.n_members, "g_params": result.g_params,
               "d_params": result.d_params}
    headline = findings[0]
    figures = [Figure("samples.png", "Generator samples",
                      f"64 images G draws from fixed latents (seed 0) after epoch {result.epoch}: the faces the "
                      "discriminator learned to judge.")]
    tables = []
    if h:
        last = h[-1]
        figures.append(Figure("history.png", "Training history",
                              f"Mean losses and D outputs per epoch; last epoch D loss {fmt(last.get('loss_d'))}, "
                              f"G loss {fmt(last.get('loss_g'))}."))
        secs = max((x["time_s"] for x in h if finite(x.get("time_s"))), default=0)  # time_s is cumulative
        if secs:
            findings.append(f"Training took {secs / 60:.1f} min for {len(h)} recorded epochs.")
            numbers["train_minutes"] = secs / 60
        q = [x for x in h if finite(x.get("fd"))]
        if q:
            best = min(q, key=lambda x: x["fd"])
            figures.append(Figure("quality.png", "Sample quality per epoch",
                                  f"Fréchet distance falls from {fmt(q[0]['fd'], 2)} (epoch {q[0]['epoch']}) to "
                                  f"{fmt(q[-1]['fd'], 2)} (epoch {q[-1]['epoch']}); lowest at epoch {best['epoch']}. "
                                  "Features: the attribute classifier's penultimate layer (Inception weights "
                                  "cannot be downloaded here)."))
            headline = (f"{label}, epoch {result.epoch}: Fréchet distance {fmt(q[-1]['fd'], 2)}, precision "
                        f"{fmt(q[-1].get('precision'))}, recall {fmt(q[-1].get('recall'))}; D tells real from "
                        f"generated at AUC {fmt(q[-1].get('d_auc'))}")
            findings.insert(0, headline)
            numbers.update({k: q[-1].get(k) for k in ("fd", "precision", "recall", "d_auc")})
            numbers["best_fd_epoch"] = best["epoch"]
        cols = [c for c in h[0] if all(isinstance(x.get(c), (int, float)) or x.get(c) is None for x in h)]
        tables.append(Table("Per-epoch history", cols, [[x.get(c) for c in cols] for x in h]))
    figures = [f for f in figures if (result.out_dir is None or (result.out_dir / f.file).is_file())]
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=headline, findings=findings, tables=tables,
                   figures=figures, command=[result.command] if result.command else [], numbers=numbers)


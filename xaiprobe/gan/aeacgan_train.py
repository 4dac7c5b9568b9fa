"""Training the AE-ACGAN: three updates per batch, as in the Keras project.

1. D on real images (real/fake target ``real_label``, 0.9 = one-sided label smoothing; auxiliary
   BCE on their labels) and on G's images (target 0; auxiliary BCE on the labels G was asked for).
2. G through the frozen D: real/fake BCE toward "real" (1) plus auxiliary BCE toward the
   requested labels. It reuses step 1's fake batch.
3. The auto-encoder on real images: encoder -> (sigmoid labels, latent) -> G -> reconstruction,
   mean absolute error, with its own Adam at ``ae_lr_scale`` (25%) of the learning rate, over the
   encoder's and G's parameters. The encoder's label head also gets a BCE toward the true labels
   (weight ``ae_label_weight``, 1; 0 is the Keras original, which trained the auto-encoder on
   the reconstruction alone), so G sees labels with the same meaning in both paths.

Conditioning labels of fake images are rows of the training labels drawn at random (the data's
joint label distribution); latents are standard normal. ``d_noise`` adds Gaussian noise of that
standard deviation to every image D sees (steps 1 and 2), like Keras' GaussianNoise layer.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path
from .aeacgan import AEACGANConfig, build_aeacgan
from .sampling import sample_latents, save_image_grid

#: per-batch values averaged over an epoch
MEAN_STATS = ("loss_d", "loss_g", "loss_ae", "loss_ae_labels", "aux_real", "aux_fake",
              "d_x", "d_g_z1", "d_g_z2", "acc_real", "acc_fake")
#: per-batch counts summed over an epoch (the auxiliary head's micro-F1 on real and fake images)
COUNT_STATS = ("tp_real", "fp_real", "fn_real", "tp_fake", "fp_fake", "fn_fake")
#: columns of the conditional grid (latent + label row) and attributes it switches
COND_COLUMNS, COND_ATTRIBUTES, RECON_IMAGES = 8, 10, 8


@dataclass(frozen=True)
class AEACGANRecipe:
    """Training options of the AE-ACGAN (the architecture is :class:`AEACGANConfig`).

    Parameters
    ----------
    real_label : float
        D's real/fake target for real images (one-sided label smoothing; 1 turns it off).
    d_noise : float
        Standard deviation of Gaussian noise added to D's input images (0 = none).
    autoencoder : bool
        Run step 3 (False: the ``--no-autoencoder`` ablation; the encoder stays untrained).
    ae_lr_scale : float
        The auto-encoder's learning rate as a fraction of the GAN's.
    ae_label_weight : float
        Weight of the BCE between the encoder's label head and the true labels in step 3.
    """

    real_label: float = 0.9
    d_noise: float = 0.0
    autoencoder: bool = True
    ae_lr_scale: float = 0.25
    ae_label_weight: float = 1.0

    def __post_init__(self):
        if not 0 < float(self.real_label) <= 1:
            raise XaiprobeError(f"--real-label {self.real_label}: must be in (0, 1]; 0.9 is one-sided smoothing, 1 none")
        if not float(self.d_noise) >= 0:
            raise XaiprobeError(f"--d-noise {self.d_noise}: the noise's standard deviation must be >= 0")
        if not float(self.ae_lr_scale) > 0:
            raise XaiprobeError(f"--ae-lr-scale {self.ae_lr_scale}: must be > 0 (0.25 = a quarter of --lr)")
        if not float(self.ae_label_weight) >= 0:
            raise XaiprobeError(f"--ae-label-weight {self.ae_label_weight}: must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)


def _counts(logits: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
    pred, true = logits > 0, target > 0.5
    return [(pred & true).sum(), (pred & ~true).sum(), (~pred & true).sum()]


def aeacgan_train_step(E: nn.Module, G: nn.Module, D: nn.Module, opt_g, opt_d, opt_ae, real: torch.Tensor,
                       labels: torch.Tensor, z: torch.Tensor, fake_labels: torch.Tensor,
                       recipe: AEACGANRecipe = AEACGANRecipe(), noise_gen: torch.Generator | None = None, *,
                       autocast_bf16: bool = False, d_plain: nn.Module | None = None, d_no_sync=None) -> torch.Tensor:
    """One AE-ACGAN update: D, then G through the frozen D, then the auto-encoder.

    Parameters
    ----------
    E, G, D : nn.Module
        Encoder, generator, discriminator (possibly DDP-wrapped), in train mode.
    opt_g, opt_d, opt_ae : torch.optim.Optimizer
        ``opt_ae`` holds the encoder's and G's parameters (unused without the auto-encoder step).
    real : Tensor (n, 3, 64, 64)
    labels : Tensor (n, A)
        The real images' labels, float 0/1.
    z : Tensor (n, nz)
    fake_labels : Tensor (n, A)
        The labels G is asked for.
    recipe : AEACGANRecipe
    noise_gen : torch.Generator, optional
        Draws D's input noise (``recipe.d_noise`` > 0).
    autocast_bf16, d_plain, d_no_sync : see :func:`xaiprobe.gan.train.train_step`.

    Returns
    -------
    Tensor (len(MEAN_STATS) + len(COUNT_STATS),), detached, float64.
    """
    amp = (lambda: torch.autocast(real.device.type, dtype=torch.bfloat16)) if autocast_bf16 else contextlib.nullcontext
    d_plain = D if d_plain is None else d_plain
    bce = F.binary_cross_entropy_with_logits
    n = real.shape[0]

    def noisy(x):
        if recipe.d_noise <= 0:
            return x
        return x + recipe.d_noise * torch.randn(x.shape, generator=noise_gen, device=x.device, dtype=x.dtype)

    # (1) D on real (smoothed target, aux on true labels) and on fakes (target 0, aux on asked labels)
    opt_d.zero_grad(set_to_none=True)
    with d_no_sync() if d_no_sync is not None else contextlib.nullcontext():
        with amp():
            logit_r, aux_r = D(noisy(real), with_aux=True)
            aux_real = bce(aux_r.float(), labels)
            loss_real = bce(logit_r.float(), torch.full((n,), float(recipe.real_label), device=real.device)) + aux_real
        loss_real.backward()
    with amp():
        fake = G(z, fake_labels)
        logit_f, aux_f = D(noisy(fake.detach()), with_aux=True)
        aux_fake = bce(aux_f.float(), fake_labels)
        loss_fake = bce(logit_f.float(), torch.zeros(n, device=real.device)) + aux_fake
    loss_fake.backward()
    opt_d.step()

    # (2) G through the frozen D: toward "real" and toward the asked labels
    opt_g.zero_grad(set_to_none=True)
    params_d = [p for p in d_plain.parameters() if p.requires_grad]
    for p in params_d:
        p.requires_grad_(False)
    try:
        with amp():
            logit_g, aux_g = d_plain(noisy(fake), with_aux=True)
            loss_g = bce(logit_g.float(), torch.ones(n, device=real.device)) + bce(aux_g.float(), fake_labels)
        loss_g.backward()
    finally:
        for p in params_d:
            p.requires_grad_(True)
    opt_g.step()

    # (3) the auto-encoder on real images
    nan = torch.tensor(float("nan"), device=real.device)
    loss_ae = loss_lab = nan
    if recipe.autoencoder:
        opt_ae.zero_grad(set_to_none=True)
        with amp():
            lab_logits, latent = E(real)
            recon = G(latent, torch.sigmoid(lab_logits))
            loss_ae = (recon.float() - real).abs().mean()
            loss_lab = bce(lab_logits.float(), labels)
        (loss_ae + float(recipe.ae_label_weight) * loss_lab if recipe.ae_label_weight else loss_ae).backward()
        opt_ae.step()

    with torch.no_grad():
        means = [loss_real + loss_fake, loss_g, loss_ae, loss_lab, aux_real, aux_fake,
                 torch.sigmoid(logit_r.float()).mean(), torch.sigmoid(logit_f.float()).mean(),
                 torch.sigmoid(logit_g.float()).mean(), (logit_r > 0).float().mean(), (logit_f < 0).float().mean()]
        counts = _counts(aux_r, labels) + _counts(aux_f, fake_labels)
        return torch.stack([v.detach().double() for v in means + counts])


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else float("nan")


class AEACGANTrainer:
    """The AE-ACGAN's part of ``train_gan``: networks, optimizers, step, epoch stats and images."""

    kind = "aeacgan"

    def __init__(self, config: AEACGANConfig, seed: int, lr: float, betas, recipe: AEACGANRecipe,
                 train_labels: torch.Tensor, fixed_images: torch.Tensor, sample_count: int, sample_seed: int,
                 attribute_names):
        if not isinstance(recipe, AEACGANRecipe):
            raise XaiprobeError("recipe: pass an AEACGANRecipe (or a dict of its fields)")
        self.config, self.recipe = config, recipe
        model = build_aeacgan(config=config, seed=seed)
        self.modules = {"generator": model.generator, "discriminator": model.discriminator, "encoder": model.encoder}
        self.E, self.G, self.D = model.encoder, model.generator, model.discriminator
        betas = tuple(betas)
        self.lrs = {"generator": float(lr), "discriminator": float(lr),
                    "autoencoder": float(lr) * float(recipe.ae_lr_scale)}
        self.optimizers = {
            "generator": torch.optim.Adam(self.G.parameters(), lr=self.lrs["generator"], betas=betas),
            "discriminator": torch.optim.Adam(self.D.parameters(), lr=self.lrs["discriminator"], betas=betas),
            "autoencoder": torch.optim.Adam(list(self.E.parameters()) + list(self.G.parameters()),
                                            lr=self.lrs["autoencoder"], betas=betas)}
        self.train_labels = train_labels.float()
        self.attribute_names = [str(a) for a in attribute_names]
        self.fixed_images = fixed_images
        self.sample_count, self.sample_seed = int(sample_count), int(sample_seed)
        gen = torch.Generator().manual_seed(self.sample_seed)
        n_rows = max(self.sample_count, COND_COLUMNS)
        self.sample_labels = self.train_labels[torch.randint(len(self.train_labels), (n_rows,), generator=gen)]
        self.sample_z = sample_latents(n_rows, config.nz, self.sample_seed)
        self.E_run, self.G_run, self.D_run, self.d_no_sync = self.E, self.G, self.D, None

    def hparams(self) -> dict:
        return {"loss": "BCEWithLogits (real/fake + auxiliary), MAE auto-encoder", **self.recipe.to_dict()}

    def set_default_labels(self) -> None:
        """G's ``default_labels``: the most common label row of the training set."""
        rows, counts = torch.unique(self.train_labels, dim=0, return_counts=True)
        self.G.default_labels.copy_(rows[int(torch.argmax(counts))])

    def prepare(self, device, world: int) -> None:
        self.train_labels = self.train_labels.to(device)
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [device.index] if device.type == "cuda" else None
            self.E_run, self.G_run, self.D_run = (DDP(m, device_ids=ids) for m in (self.E, self.G, self.D))
            self.d_no_sync = self.D_run.no_sync

    def step(self, real: torch.Tensor, labels: torch.Tensor, noise_gen: torch.Generator,
             autocast_bf16: bool = False) -> torch.Tensor:
        n = real.shape[0]
        z = torch.randn(n, self.config.nz, generator=noise_gen, device=real.device)
        pick = torch.randint(len(self.train_labels), (n,), generator=noise_gen, device=real.device)
        return aeacgan_train_step(self.E_run, self.G_run, self.D_run, self.optimizers["generator"],
                                  self.optimizers["discriminator"], self.optimizers["autoencoder"], real,
                                  labels.float(), z, self.train_labels[pick], self.recipe, noise_gen,
                                  autocast_bf16=autocast_bf16, d_plain=self.D, d_no_sync=self.d_no_sync)

    def summarize(self, sums: torch.Tensor, n_batches: int) -> dict:
        k = len(MEAN_STATS)
        row = {name: float(v) / max(n_batches, 1) for name, v in zip(MEAN_STATS, sums[:k].tolist())}
        if not self.recipe.autoencoder:
            row.pop("loss_ae")
            row.pop("loss_ae_labels")
        c = dict(zip(COUNT_STATS, sums[k:].tolist()))
        row["f1_real"] = _f1(c["tp_real"], c["fp_real"], c["fn_real"])
        row["f1_fake"] = _f1(c["tp_fake"], c["fp_fake"], c["fn_fake"])
        return row

    @torch.no_grad()
    def write_images(self, sample_dir: Path, epoch: int) -> None:
        """samples/epoch_NNN.png (G on fixed latents and label rows), recon_epoch_NNN.png (fixed test
        images over their auto-encoder reconstructions) and cond_epoch_NNN.png (per attribute a
        row with it off and a row with it on; the other labels and the latents fixed; the rows'
        attributes are listed in cond_rows.json)."""
        modes = {m: m.training for m in (self.E, self.G)}
        self.E.eval()
        self.G.eval()
        dev = next(self.G.parameters()).device
        try:
            n = self.sample_count
            if n > 0:
                x = self.G(self.sample_z[:n].to(dev), self.sample_labels[:n].to(dev))
                save_image_grid(x, sample_dir / f"epoch_{epoch:03d}.png")
            if self.recipe.autoencoder and len(self.fixed_images):
                real = self.fixed_images.to(dev)
                lab, lat = self.E(real)
                recon = self.G(lat, torch.sigmoid(lab))
                save_image_grid(torch.cat([real, recon]), sample_dir / f"recon_epoch_{epoch:03d}.png", nrow=len(real))
            z, base = self.sample_z[:COND_COLUMNS].to(dev), self.sample_labels[:COND_COLUMNS].to(dev)
            rows = []
            for a in range(min(self.config.n_attributes, COND_ATTRIBUTES)):
                for value in (0.0, 1.0):
                    lab = base.clone()
                    lab[:, a] = value
                    rows.append(self.G(z, lab))
            save_image_grid(torch.cat(rows), sample_dir / f"cond_epoch_{epoch:03d}.png", nrow=COND_COLUMNS)
            key = sample_dir / "cond_rows.json"
            if not key.is_file():  # which attribute each pair of rows switches
                names = self.attribute_names[:len(rows) // 2]
                with atomic_path(key) as tmp:
                    tmp.write_text(json.dumps({"rows": [f"{a}={v}" for a in names for v in (0, 1)],
                                               "columns": "fixed latents and label rows"}, indent=1))
        finally:
            for m, mode in modes.items():
                m.train(mode)

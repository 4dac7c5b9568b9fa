"""The ``aeacgan`` stage: what the AE-ACGAN's labels do to its generator and its discriminator.

Writes RUN/aeacgan/: ``results.json`` (every measurement with its interval and control),
``conditional.png`` (balanced accuracy per attribute, generated and real), ``probes.png`` (probe
ROC-AUC per layer x attribute for the AE-ACGAN's D, the DCGAN's D, random-init Ds and pixels),
``quality.png``, ``cond_grid.png`` (each attribute off/on, latent and other labels fixed),
``reconstructions.png`` and ``section.json``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._layout import stage_dir
from .._utils.errors import XaiprobeError
from ..config import StageConfig, param
from ._measure import (AttributeScores, ConditionalResult, attribute_columns, classifier_features,
                       classifier_logits, conditional_accuracy, diversity, draw_label_rows, one_thread, real_accuracy,
                       reconstruction_error)
from ._probes import PROBE_LAYERS, ProbeGrid, layer_features, pixel_features, probe_grid, readability

log = logging.getLogger(__name__)

NAME = "aeacgan"
TITLE = "Auto-encoder + auxiliary-classifier GAN"
ORDER = 95
HELP = ("the AE-ACGAN's measurements: conditional generation, its auxiliary head, reconstructions, quality, "
        "mode collapse without the auto-encoder, and what D knows with labels vs without")

FORMAT = "xaiprobe.aeacgan"
VERSION = 1
SPLITS = ("train", "val", "test", "heldout", "all")
MIN_REAL = 16
GRID_COLUMNS = 4
RECON_COLUMNS = 8
K = 3
CLASSIFIER_FIX = ("pass a classifier trained on every attribute "
                  "(xaiprobe classifier train --data synthfaces:N:attrs=all --out FILE)")


@dataclass
class Config(StageConfig):
    """Parameters of ``xaiprobe aeacgan``."""

    stage = NAME
    checkpoint: str = param(required=True, help="AE-ACGAN checkpoint (.pt) written by `xaiprobe train --arch aeacgan`",
                            path=True)
    ablation: str | None = param(None, "the same recipe trained with --no-autoencoder (same seed and updates): adds "
                                       "the mode-collapse comparison", path=True)
    dcgan: str | None = param(None, "a DCGAN checkpoint: its sample quality and its D's probes beside the AE-ACGAN's",
                              path=True)
    classifier: str | None = param(None, "attribute classifier file with every attribute of the checkpoint "
                                         "[the shipped SynthFaces classifier]", path=True)
    data: str | None = param(None, "real images: data spec with the checkpoint's attributes [the checkpoint's]")
    split: str = param("test", "split of --data the real images come from (heldout = val + test)", choices=SPLITS)
    n: int = param(256, "generated images per measurement (label rows from the data's joint distribution)", low=16)
    probe_n: int = param(600, "real images: probes, auxiliary-head accuracy, reconstructions, quality reference",
                         low=MIN_REAL)
    train_fraction: float = param(0.5, "share of the real images the probes are fitted on (the rest score them)",
                                  low=0, high=1, low_open=True, high_open=True)
    pooling: str = param("avg2", "pooling of each layer's output before probing: avgK (adaptive KxK), mean, max")
    probe_cs: tuple[float, ...] = param((0.1,), "probe inverse regularization strength; several values are a grid "
                                                "chosen per attribute on held-out train rows (3x the time)",
                                        low=0, low_open=True)
    bootstrap: int = param(200, "bootstrap resamples of the intervals (0 = none)", low=0)
    fd_bootstrap: int = param(10, "bootstrap resamples of the Fréchet-distance and precision/recall intervals "
                                  "(each costs one FD per set; 0 = none, else at least 10)", low=0)
    seed: int = param(0, "seed of latents, label rows, image subsets, random-init networks and bootstraps", low=0)
    batch_size: int = param(128, "images per forward pass", low=1)
    device: str | None = param(None, "cpu, cuda, cuda:N [cuda when present]")
    classifier_model: object = param(None, "attribute classifier (API only): images -> logits (N, A), with "
                                           ".attribute_names and .features(x)", cli=False)

    def check(self) -> None:
        from ..activations.hooks import check_pooling

        if self.classifier is not None and self.classifier_model is not None:
            raise XaiprobeError("--classifier: give either a classifier file or a classifier module, not both")
        try:
            check_pooling(self.pooling)
        except XaiprobeError:
            raise XaiprobeError(f"--pooling {self.pooling!r}: unknown; use avgK (e.g. avg2), mean or max") from None
        if self.pooling == "none":
            raise XaiprobeError("--pooling none: probes need pooled features; use avg2, mean or max")
        if 0 < self.fd_bootstrap < 10:
            raise XaiprobeError(f"--fd-bootstrap {self.fd_bootstrap}: an interval needs at least 10 resamples; "
                                "use 0 (no FD interval) or 10 or more")
        if not self.probe_cs:
            raise XaiprobeError("--probe-cs: empty; give at least one value, e.g. 0.01,0.1,1")


@dataclass
class Result:
    """Everything the stage measured (see :func:`run`)."""

    config: Config
    names: list
    conditional: ConditionalResult
    real: dict
    reconstruction: dict
    sets: dict
    grid: ProbeGrid
    readable: list
    ablation: dict | None
    info: dict
    figures: list = field(default_factory=list)
    seconds: float = float("nan")


# -- inputs -----------------------------------------------------------------------------------
def _load(path, flag: str, kind: str, device):
    from ..gan.arch import with_article
    from ..gan.checkpoint import load_checkpoint

    ck = load_checkpoint(path, device)
    if ck.kind != kind:
        fix = ("pass a checkpoint written by `xaiprobe train --arch aeacgan`" if flag == "--checkpoint" else
               "pass the same recipe trained with `xaiprobe train --arch aeacgan --no-autoencoder`"
               if flag == "--ablation" else "pass a checkpoint written by `xaiprobe train --arch dcgan`")
        raise XaiprobeError(f"{flag} {path}: {with_article(ck.kind)} checkpoint, not {with_article(kind)}; {fix}")
    return ck


def _recipe(ck) -> dict:
    extra = ck.raw.get("extra") or {}
    hist = extra.get("history") or []
    hp = extra.get("hyperparameters") or {}
    bs = int(hp.get("batch_size", 0) or 0)
    updates = sum(-(-int(h.get("images", 0)) // bs) for h in hist) if bs else None
    return {"seed": extra.get("seed"), "epochs": ck.epoch, "batch_size": bs or None, "updates": updates,
            "images": sum(int(h.get("images", 0)) for h in hist) or None, "autoencoder": hp.get("autoencoder")}


def _check_ablation(main, abl, path) -> dict:
    if abl.arch != main.arch:
        diff = sorted(k for k in set(abl.arch) | set(main.arch) if abl.arch.get(k) != main.arch.get(k))
        raise XaiprobeError(f"--ablation {path}: its architecture differs from --checkpoint's ({', '.join(diff)}); "
                            "train the ablation with the same --width, --nz and data")
    r_main, r_abl = _recipe(main), _recipe(abl)
    if r_abl["autoencoder"] is True:
        raise XaiprobeError(f"--ablation {path}: trained with the auto-encoder step; pass a run trained with "
                            "`xaiprobe train --arch aeacgan --no-autoencoder`")
    if r_main["autoencoder"] is False:
        raise XaiprobeError(f"--checkpoint {main.path}: trained with --no-autoencoder, so there is nothing to ablate; "
                            "pass the run with the auto-encoder as --checkpoint")
    same = all(r_main[k] == r_abl[k] for k in ("seed", "epochs", "batch_size", "updates"))
    return {"main": r_main, "ablation": r_abl, "matched": bool(same)}


def _attributes(ck, data_names) -> list[str]:
    a = int(ck.arch.get("n_attributes", 0))
    names = [str(x) for x in (ck.data or {}).get("attributes") or []]
    if not names and len(data_names) == a:
        names = [str(x) for x in data_names]
    if len(names) != a:
        raise XaiprobeError(f"--checkpoint {ck.path}: records {len(names)} attribute names for an auxiliary head of "
                            f"{a}; pass a checkpoint written by `xaiprobe train --arch aeacgan`")
    return names


def _classifier(config: Config, device):
    if config.classifier_model is not None:
        return config.classifier_model, f"classifier {type(config.classifier_model).__name__}"
    from ..editing.classifier import load_classifier

    return load_classifier(config.classifier, device), (f"--classifier {config.classifier}" if config.classifier
                                                        else "the shipped classifier")


def _real_rows(data, config: Config) -> np.ndarray:
    rows = data.rows_of(["val", "test"] if config.split == "heldout" else config.split)
    if rows.size < MIN_REAL:
        raise XaiprobeError(f"--split {config.split}: data set {data.spec} has {rows.size} images there; the stage "
                            f"needs at least {MIN_REAL} real images; use --split all or a larger data set")
    rng = np.random.default_rng(config.seed)
    return np.sort(rng.permutation(rows)[:config.probe_n])


# -- the stage ----------------------------------------------------------------------------------
def run(config: Config, run_dir) -> Result:
    """Load and check every input, measure, then write RUN/aeacgan (nothing is written on bad input)."""
    from .._utils.coerce import resolve_device
    from ..data import load_dataset

    t0, cpu0 = time.perf_counter(), time.process_time()
    dev = resolve_device(config.device)
    main = _load(config.checkpoint, "--checkpoint", "aeacgan", dev)
    ablation = _load(config.ablation, "--ablation", "aeacgan", dev) if config.ablation else None
    abl_info = _check_ablation(main, ablation, config.ablation) if ablation is not None else None
    dcgan = _load(config.dcgan, "--dcgan", "dcgan", dev) if config.dcgan else None
    spec = config.data or (main.data or {}).get("spec")
    if not spec:
        raise XaiprobeError(f"--data: required; checkpoint {main.path} records no data spec")
    data = load_dataset(spec)
    if tuple(data.image_shape) != (3, 64, 64):
        raise XaiprobeError(f"--data {data.spec}: images are {data.image_shape}; the AE-ACGAN needs (3, 64, 64)")
    names = _attributes(main, data.attribute_names)
    dcols = attribute_columns(data.attribute_names, names, f"--data {data.spec}",
                              "use the data set the checkpoint was trained on (synthfaces:N:attrs=all)")
    clf, clf_what = _classifier(config, dev)
    ccols = attribute_columns(getattr(clf, "attribute_names", []), names, clf_what, CLASSIFIER_FIX)
    if not callable(getattr(clf, "features", None)):
        raise XaiprobeError(f"{clf_what}: has no features(x) method (its penultimate features); pass an "
                            "xaiprobe AttributeClassifier")
    pool = _real_rows(data, config)
    train_rows = data.rows_of("train")
    train_labels = data.labels[train_rows if train_rows.size else np.arange(len(data))][:, dcols]
    result = _measure(config, main, ablation, dcgan, clf, ccols, data, dcols, pool, train_labels, names, dev)
    result.ablation = abl_info
    result.info.update({"checkpoint": str(main.path), "checkpoint_sha256": main.sha256, "epoch": main.epoch,
                        "arch": main.arch, "data": data.spec, "split": config.split, "classifier": clf_what,
                        "recipe": _recipe(main), "dcgan": str(dcgan.path) if dcgan else None,
                        "ablation": str(ablation.path) if ablation else None})
    _write(result, stage_dir(run_dir, NAME))
    result.seconds = time.perf_counter() - t0
    log.info("aeacgan stage: %.1f s (%.1f s of CPU)", result.seconds, time.process_time() - cpu0)
    return result


def _measure(config, main, ablation, dcgan, clf, ccols, data, dcols, pool, train_labels, names, dev) -> Result:
    from ..gan.arch import build_models
    from ..gan.quality import quality_from_features
    from ..gan.sampling import sample_images, sample_latents

    nb, bs, seed = config.bootstrap, config.batch_size, config.seed
    clock = [time.perf_counter()]

    def lap() -> float:
        now = time.perf_counter()
        clock.append(now)
        return now - clock[-2]

    G, D = main.generator, main.discriminator
    # 1. conditional generation
    rows = draw_label_rows(train_labels, config.n, names, seed)
    z = sample_latents(len(rows.labels), G.config.nz, seed)
    _, fake = sample_images(G, len(z), z=z, labels=torch.from_numpy(rows.labels), batch_size=bs)
    cond = conditional_accuracy(G, clf, rows, ccols, D, seed, nb, bs, images=fake)
    log.info("conditional: classifier %.3f, aux %.3f (%.1f s)", cond.classifier.mean, cond.aux.mean, lap())
    # 2. + 6. real images through every discriminator
    real = data.images(pool)
    ylab = data.labels[pool][:, dcols].astype(np.int8)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(pool))
    n_tr = min(max(int(round(config.train_fraction * len(pool))), 2), len(pool) - 2)
    tr, te = np.sort(order[:n_tr]), np.sort(order[n_tr:])
    lay = PROBE_LAYERS["aeacgan"]
    feats = {}
    f = layer_features(D, real, (*lay, "aux"), config.pooling, bs)
    aux_real = f.pop("aux")
    feats.update({("aeacgan", a): v for a, v in f.items()})
    d_rand = build_models(main.arch, seed=seed + 1)["discriminator"].to(dev).eval()
    f = layer_features(d_rand, real, (*lay, "aux"), config.pooling, bs)
    aux_random = f.pop("aux")
    feats.update({("aeacgan_random", a): v for a, v in f.items()})
    if dcgan is not None:
        dl = PROBE_LAYERS["dcgan"]
        feats.update({("dcgan", a): v for a, v in layer_features(dcgan.discriminator, real, dl, config.pooling,
                                                                  bs).items()})
        dc_rand = build_models(dcgan.arch, seed=seed + 1)["discriminator"].to(dev).eval()
        feats.update({("dcgan_random", a): v for a, v in layer_features(dc_rand, real, dl, config.pooling,
                                                                         bs).items()})
    feats[("pixels", "8x8")] = pixel_features(real)
    clf_real = classifier_logits(clf, real, ccols, bs)
    acc_real = real_accuracy(ylab, names, clf_real, aux_real, aux_random, nb, seed)
    grid = probe_grid(feats, ylab, names, tr, te, direct={("aeacgan_aux", "aux"): aux_real},
                      Cs=config.probe_cs, seed=seed, n_boot=nb)
    summary = readability(grid, nb, seed)
    log.info("probes: %d rows x %d attributes (%.1f s)", len(grid.rows), len(names), lap())
    # 3. reconstructions of held-out real images (not the probes' train part), mean image of the train part
    r_n = min(len(te), max(16, config.n // 8))
    x_rec = real[te[:r_n]]
    mean_img = real[tr].mean(0)
    recon = {"aeacgan": reconstruction_error(main.encoder, G, x_rec, mean_img, seed, nb, bs), "images": x_rec}
    if ablation is not None:
        recon["ablation"] = reconstruction_error(ablation.encoder, ablation.generator, x_rec, mean_img, seed, nb, bs,
                                                 controls=False)
    log.info("reconstructions: MAE %.3f (%.1f s)", recon["aeacgan"]["mae"]["mean"], lap())
    # 4. + 5. quality and diversity in the classifier's feature space, every set of m images
    m = min(rows.n_base, len(pool) // 2)
    half = np.random.default_rng(seed + 2).permutation(len(pool))
    f_real = classifier_features(clf, real, bs)
    ref, other = f_real[torch.from_numpy(half[:m])], f_real[torch.from_numpy(half[m:2 * m])]
    images = {"AE-ACGAN": fake[:m]}
    if ablation is not None:
        images["ablation (no auto-encoder)"] = sample_images(ablation.generator, m, z=z[:m],
                                                             labels=torch.from_numpy(rows.labels[:m]),
                                                             batch_size=bs)[1]
    if dcgan is not None:
        images["DCGAN"] = sample_images(dcgan.generator, m, seed=seed, batch_size=bs)[1]
    set_feats = {k: classifier_features(clf, v, bs) for k, v in images.items()}
    set_feats["real vs real"] = other
    sets = {}
    for k, fk in set_feats.items():
        with one_thread():  # small eigen-decompositions: threads only wait on a busy machine (40x slower)
            q = quality_from_features(ref, fk, k=K, n_boot=config.fd_bootstrap, seed=seed)
            dv = diversity(fk, nb, seed)
        sets[k] = {"fd": q.fd, "fd_lo": q.fd_interval[0], "fd_hi": q.fd_interval[1], "precision": q.precision,
                   "precision_lo": q.precision_interval[0], "precision_hi": q.precision_interval[1],
                   "recall": q.recall, "recall_lo": q.recall_interval[0], "recall_hi": q.recall_interval[1],
                   "diversity": dv["mean"], "diversity_lo": dv["lo"], "diversity_hi": dv["hi"], "n": len(fk)}
        log.info("quality %s: FD %.3f precision %.3f recall %.3f diversity %.3f", k, q.fd, q.precision, q.recall,
                 dv["mean"])
    log.info("quality and diversity of %d sets (%.1f s)", len(sets), lap())
    # the conditional grid: per attribute off / on, latents and the other labels fixed
    c = min(GRID_COLUMNS, rows.n_base)
    zc, base = z[:c], torch.from_numpy(rows.labels[:c])
    grid_rows = []
    for a in range(len(names)):
        lab = base.repeat_interleave(2, 0)
        lab[0::2, a], lab[1::2, a] = 0.0, 1.0
        grid_rows.append(sample_images(G, 2 * c, z=zc.repeat_interleave(2, 0), labels=lab, batch_size=bs)[1])
    log.info("conditional grid (%.1f s)", lap())
    info = {"n_generated": int(len(rows.labels)), "n_base": int(rows.n_base), "extra_rows": rows.extra,
            "n_real": int(len(pool)), "n_probe_train": int(len(tr)), "n_probe_test": int(len(te)),
            "n_quality": int(m), "n_recon": int(r_n), "feature_dim": int(f_real.shape[1]),
            "probe_layers": {"aeacgan": list(lay), "dcgan": list(PROBE_LAYERS["dcgan"]) if dcgan else []},
            "cond_grid": grid_rows, "probe_warnings": grid.warnings}
    return Result(config, names, cond, acc_real, recon, sets, grid, summary, None, info)


# -- outputs -----------------------------------------------------------------------------------
def _scores_dict(s: AttributeScores | None):
    return None if s is None else s.to_dict()


def _write(result: Result, out: Path) -> None:
    from .._utils.figures import savefig, write_json
    from ..report import Figure
    from ..report._section import SECTION_FILE
    from . import _plots

    out.mkdir(parents=True, exist_ok=True)
    (out / SECTION_FILE).unlink(missing_ok=True)  # an interrupted run must not look complete
    cond, grid, info = result.conditional, result.grid, result.info
    rec = {k: {m: v for m, v in r.items() if m in ("mae", "shuffled", "mean_image")}
           for k, r in result.reconstruction.items() if k != "images"}
    write_json(out / "results.json", {
        "format": FORMAT, "version": VERSION, "command": result.config.command(), "attributes": result.names,
        "conditional": {"classifier": _scores_dict(cond.classifier), "aux": _scores_dict(cond.aux),
                        "shuffled": _scores_dict(cond.shuffled)},
        "real": {k: _scores_dict(v) for k, v in result.real.items()}, "reconstruction": rec, "quality": result.sets,
        "probes": {"rows": [list(r) for r in grid.rows], "auc": grid.auc, "lo": grid.lo, "hi": grid.hi,
                   "n_train": grid.n_train, "n_test": grid.n_test},
        "readable": result.readable, "ablation": result.ablation,
        "info": {k: v for k, v in info.items() if k != "cond_grid"}})
    figs = result.figures
    savefig(_plots.plot_accuracy(cond, result.real), out / "conditional")
    figs.append(Figure("conditional.png", "Balanced accuracy per attribute: generated and real images",
                       "Top: on G(z, y), the independent classifier (blue) and the auxiliary head (red) against the "
                       "requested labels; grey: the classifier against shuffled requests. Bottom: on real test images "
                       "against the true labels; grey: a random-init auxiliary head. Bars: 95% bootstrap intervals; "
                       "dashed: chance."))
    savefig(_plots.plot_probe_grid(grid, result.readable), out / "probes")
    figs.append(Figure("probes.png", "What D knows with and without labels",
                       f"Left: linear-probe ROC-AUC ({result.config.pooling} pooling) per layer and attribute on "
                       f"{grid.n_test} held-out real images; the aux-head row is its logits used directly. Right: the "
                       "AE-ACGAN D's best layer (in brackets) minus the DCGAN D's best and the random-init AE-ACGAN "
                       "D's best, with paired 95% bootstrap intervals."))
    savefig(_plots.plot_quality(result.sets), out / "quality")
    figs.append(Figure("quality.png", "Sample quality and diversity",
                       f"{info['n_quality']} images per set against {info['n_quality']} real ones in the classifier's "
                       f"{info['feature_dim']}-d penultimate features (not Inception: FD is not FID). Real vs real is "
                       "the floor; diversity is the mean distance of each image to the others."))
    grid_rows = info["cond_grid"]
    cols = [f"z{j // 2 + 1} {'on' if j % 2 else 'off'}" for j in range(len(grid_rows[0]))] if grid_rows else None
    savefig(_plots.plot_image_rows(grid_rows, list(result.names), "Each attribute off | on; latent and other labels "
                                   "fixed per pair", cols, pair=True), out / "cond_grid")
    figs.append(Figure("cond_grid.png", "Conditional samples",
                       "Each row switches one requested attribute off then on within each pair of columns; a pair "
                       "keeps its latent and its other labels. A conditional G changes only the attribute's region."))
    recon = result.reconstruction
    k = min(RECON_COLUMNS, len(recon["images"]))
    img_rows = [recon["images"][:k], recon["aeacgan"]["recon"][:k]]
    row_labels = ["real", "AE-ACGAN"]
    if "ablation" in recon:
        img_rows.append(recon["ablation"]["recon"][:k])
        row_labels.append("ablation")
    img_rows.append(recon["aeacgan"]["recon_shuffled"][:k])
    row_labels.append("other's code")
    savefig(_plots.plot_image_rows(img_rows, row_labels, "Auto-encoder reconstructions of held-out images"),
            out / "reconstructions")
    figs.append(Figure("reconstructions.png", "Reconstructions",
                       "Held-out real images, their encoder → G reconstructions (and the ablation's, whose encoder "
                       "never trained), and the reconstruction from another image's code (the control)."))

"""Sample quality of a generator: Fréchet distance and precision/recall in a feature space.

Both compare a set of generated images with real ones through a feature map
``features: (N, 3, 64, 64) in [-1, 1] -> (N, D)``:

* **Fréchet distance** (FD): the distance between Gaussians fitted to the two feature sets,
  ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))`` — computed by torchmetrics'
  ``FrechetInceptionDistance`` with a custom feature module (its float64 moment sums and its
  matrix square root). Lower is better; it mixes fidelity and diversity.
* **Precision / recall** (Kynkäänniemi et al. 2019, "Improved precision and recall metric for
  assessing generative models"): each set's manifold is the union of balls around its points
  reaching to their k-th nearest neighbour (k=3). Precision: the fraction of generated images
  inside the real manifold (fidelity). Recall: the fraction of real images inside the
  generated manifold (coverage; a collapsed generator loses it).

The default feature space is the penultimate layer of the shipped SynthFaces attribute
classifier (:func:`xaiprobe.editing.classifier.load_classifier`), not Inception-v3: Inception
weights cannot be downloaded where xaiprobe runs offline, so these are not FID values and
compare only with numbers measured in the same feature space with the same number of images.
The ``quality`` stage therefore reports two scales measured in the same run: real vs real
(two disjoint halves of the real split) and a randomly initialized generator of the same
architecture.

Python::

    from xaiprobe.gan.quality import sample_quality
    q = sample_quality(G, "synthfaces:20000", n=1000)
    q.fd, q.precision, q.recall

CLI: ``xaiprobe quality --checkpoint CK --data SPEC --n 1000 --out RUN``.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._utils.errors import XaiprobeError
from ..config import StageConfig, param
from ..report import Figure, Section, Table

log = logging.getLogger(__name__)

NAME = "quality"
TITLE = "Sample quality"
ORDER = 15
HELP = "Fréchet distance and precision/recall of generated vs real images, beside real-vs-real and random-G scales"

FEATURE_CAPTION = ("not Inception-v3 features (its weights cannot be downloaded offline), so FD is not FID: compare "
                   "only numbers measured in one feature space with one n")


# -- feature spaces -----------------------------------------------------------------------------
class ClassifierFeatures(nn.Module):
    """The penultimate features of an attribute classifier as a feature module (``num_features`` = D)."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier
        self.num_features = int(classifier.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(x)


class _Precomputed(nn.Module):
    """Identity feature module for torchmetrics: the rows handed to ``update`` are features already."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def feature_module(features=None, device=None) -> nn.Module:
    """The feature module to measure in: ``None`` -> the shipped classifier's penultimate features;
    an :class:`~xaiprobe.editing.classifier.AttributeClassifier` (or a classifier file path) -> its
    penultimate features; any other ``nn.Module`` -> its forward."""
    from ..editing.classifier import AttributeClassifier, load_classifier

    if features is None or isinstance(features, (str, Path)):
        features = load_classifier(features, device)
    if isinstance(features, AttributeClassifier):
        return ClassifierFeatures(features)
    if not isinstance(features, nn.Module):
        raise XaiprobeError(f"feature module {type(features).__name__}: not an nn.Module; give a module mapping "
                            "images (N, 3, 64, 64) in [-1, 1] to features (N, D)")
    return features


def _device_of(module: nn.Module) -> torch.device:
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def check_feature_module(module: nn.Module) -> int:
    """D of ``module``, after checking it maps two 64x64 images to a (2, D) tensor; else one-line error."""
    name = type(module).__name__
    probe = torch.zeros(2, 3, 64, 64, device=_device_of(module))
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(probe)
    except Exception as exc:  # any failure of a foreign module is the same user error
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise XaiprobeError(f"feature module {name}: fails on images (2, 3, 64, 64) ({first}); give a module "
                            "that maps (N, 3, 64, 64) images in [-1, 1] to features (N, D)") from None
    finally:
        module.train(was)
    if not torch.is_tensor(out) or out.dim() != 2 or out.shape[0] != 2 or out.shape[1] < 1:
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise XaiprobeError(f"feature module {name}: returns {shape} for 2 images, not a (2, D) tensor; give a "
                            "module that maps (N, 3, 64, 64) images to features (N, D) (flatten or pool its output)")
    return int(out.shape[1])


@torch.no_grad()
def extract_features(module: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Features (N, D) float64 on CPU of images (N, 3, 64, 64), in eval mode (mode restored)."""
    dev = _device_of(module)
    was = module.training
    module.eval()
    try:
        out = [module(images[i:i + batch_size].to(dev, torch.float32)).double().cpu()
               for i in range(0, len(images), batch_size)]
    finally:
        module.train(was)
    return torch.cat(out) if out else torch.empty(0, 0, dtype=torch.float64)


# -- the measures -------------------------------------------------------------------------------
def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between two feature sets (N, D) with torchmetrics' FrechetInceptionDistance."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    if len(real) < 2 or len(fake) < 2:
        raise XaiprobeError(f"Fréchet distance: {len(real)} real and {len(fake)} generated images; need at least 2 of each")
    fid = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]), normalize=True,
                                   sync_on_compute=False)  # rank 0 alone measures: no collective sync
    fid.update(real, real=True)
    fid.update(fake, real=False)
    return max(float(fid.compute()), 0.0)  # tiny negative values are round-off of equal sets


def _kth_radius(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance of every row of ``x`` to its k-th nearest other row."""
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i:i + chunk], x)
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])  # column 0 is the point itself
    return torch.cat(out)


def _inside(points: torch.Tensor, centers: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Bool (len(points),): the point lies in some ball (center, radius)."""
    out = []
    for i in range(0, len(points), chunk):
        out.append((torch.cdist(points[i:i + chunk], centers) <= radii[None, :]).any(dim=1))
    return torch.cat(out)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Kynkäänniemi et al.'s k-NN precision and recall, as per-image indicators.

    Returns ``(in_real, in_fake)``: bool arrays; ``in_real[j]``: generated image j lies in the
    real manifold (precision = mean), ``in_fake[i]``: real image i lies in the generated
    manifold (recall = mean).
    """
    real, fake = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    if min(len(real), len(fake)) <= k:
        raise XaiprobeError(f"precision/recall: {len(real)} real and {len(fake)} generated images; k={k} needs "
                            f"more than {k} of each")
    in_real = _inside(fake, real, _kth_radius(real, k))
    in_fake = _inside(real, fake, _kth_radius(fake, k))
    return in_real.numpy(), in_fake.numpy()


@dataclass
class QualityResult:
    """Quality of one image set against real images (intervals: 95% bootstrap percentiles, NaN when off)."""

    fd: float
    precision: float
    recall: float
    fd_interval: tuple = (float("nan"), float("nan"))
    precision_interval: tuple = (float("nan"), float("nan"))
    recall_interval: tuple = (float("nan"), float("nan"))
    n_real: int = 0
    n_fake: int = 0
    k: int = 3
    feature_dim: int = 0

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def quality_from_features(real: torch.Tensor, fake: torch.Tensor, k: int = 3, n_boot: int = 0,
                          seed: int = 0) -> QualityResult:
    """FD, precision and recall of feature sets ``real`` (N, D) and ``fake`` (M, D).

    ``n_boot`` > 0 adds 95% bootstrap intervals: for FD the spread of FD over resamples of both
    sets, re-centred on the estimate (FD of a resample is biased upward, so its percentiles
    would not cover the estimate); for precision and recall the percentiles over resamples of
    their per-image indicators (the manifolds fixed).
    """
    from .._utils.numeric import bootstrap_interval

    real, fake = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    fd = frechet_distance(real, fake)
    in_real, in_fake = precision_recall(real, fake, k)
    nan2 = (float("nan"), float("nan"))
    fd_ci = p_ci = r_ci = nan2
    if n_boot > 0:
        # resampling with replacement inflates FD (duplicates shrink the covariances' effective
        # sample), so the bootstrap spread is re-centred on the estimate: fd + (quantile - median)
        vals = []
        lo, hi = bootstrap_interval(lambda r, f: vals.append(frechet_distance(torch.from_numpy(r), torch.from_numpy(f)))
                                    or vals[-1], real.numpy(), fake.numpy(), n_boot=n_boot, seed=seed, paired=False)
        med = float(np.median(vals))
        fd_ci = (max(fd + lo - med, 0.0), fd + hi - med) if np.isfinite(lo) else nan2
        p_ci = bootstrap_interval(np.mean, in_real.astype(np.float64), n_boot=max(n_boot, 200), seed=seed)
        r_ci = bootstrap_interval(np.mean, in_fake.astype(np.float64), n_boot=max(n_boot, 200), seed=seed)
    return QualityResult(fd, float(in_real.mean()), float(in_fake.mean()), tuple(fd_ci), tuple(p_ci), tuple(r_ci),
                         len(real), len(fake), int(k), int(real.shape[1]))


def _images_of(generator, n: int, seed: int, batch_size: int, device) -> torch.Tensor:
    """``n`` images from an ``nn.Module`` generator (z -> images; via ``sample_images``) or a callable ``sample(n)``."""
    from .sampling import sample_images

    if isinstance(generator, nn.Module):
        images = sample_images(generator, n, seed=seed, device=device, batch_size=batch_size)[1]
    elif callable(generator):
        images = generator(n)
    else:
        raise XaiprobeError(f"generator {type(generator).__name__}: neither an nn.Module nor a callable sample(n)")
    if not torch.is_tensor(images) or tuple(images.shape) != (n, 3, 64, 64):
        shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
        raise XaiprobeError(f"generator: gave {shape} for {n} samples; it must give images ({n}, 3, 64, 64) in [-1, 1]")
    return images.detach().float().cpu()


def _real_images(real, split: str = "test") -> torch.Tensor:
    if isinstance(real, (str, Path)) or hasattr(real, "rows_of"):
        from ..data import load_dataset

        data = load_dataset(str(real)) if isinstance(real, (str, Path)) else real
        return data.images(data.rows_of(split))
    real = torch.as_tensor(real)
    if real.dim() != 4 or tuple(real.shape[1:]) != (3, 64, 64):
        raise XaiprobeError(f"real images: shape {tuple(real.shape)}; give (N, 3, 64, 64) in [-1, 1], an ImageSet "
                            "or a data spec")
    return real.float()


def sample_quality(generator, real_images, features=None, n: int = 1000, k: int = 3, seed: int = 0,
                   batch_size: int = 256, device=None, n_boot: int = 20) -> QualityResult:
    """FD and precision/recall of ``n`` generated images against real images.

    Parameters
    ----------
    generator : nn.Module or callable
        A generator z (n, nz) -> images (drawn with :func:`~xaiprobe.gan.sampling.sample_images`;
        a conditional AE-ACGAN generator uses its default labels), or ``sample(n) -> images``
        (N, 3, 64, 64) in [-1, 1] (e.g. fixed labels).
    real_images : Tensor (N, 3, 64, 64) in [-1, 1], ImageSet or data spec
        The real reference (an ImageSet or spec: its test split). More than ``n`` images: a
        seeded random subset of ``n``; fewer: ``n`` shrinks to their count.
    features : nn.Module, AttributeClassifier, classifier path or None
        The feature space (see :func:`feature_module`; default the shipped classifier's).
    k : int
        Neighbourhood size of the precision/recall manifolds.
    n_boot : int
        Bootstrap resamples of the intervals (0: none).

    Returns
    -------
    QualityResult
    """
    if int(n) < 2 or int(k) < 1:
        raise XaiprobeError(f"sample quality: n {n} must be >= 2 and k {k} >= 1")
    module = feature_module(features, device)
    check_feature_module(module)
    real = _real_images(real_images)
    n = min(int(n), len(real))
    if n <= k:
        raise XaiprobeError(f"sample quality: {len(real)} real images; k={k} needs more than {k}")
    if len(real) > n:
        real = real[torch.from_numpy(np.sort(np.random.default_rng(seed).permutation(len(real))[:n]))]
    fake = _images_of(generator, n, seed, batch_size, device)
    return quality_from_features(extract_features(module, real, batch_size), extract_features(module, fake, batch_size),
                                 k=k, n_boot=n_boot, seed=seed)


def epoch_metrics(G: nn.Module, D: nn.Module, real_fixed: torch.Tensor, fake_fixed_z: torch.Tensor,
                  features: nn.Module | None = None, k: int = 3) -> dict:
    """Per-epoch quality on a fixed sample: ``{"fd", "precision", "recall", "d_auc"}``.

    ``real_fixed``: held-out real images (N, 3, 64, 64); ``fake_fixed_z``: fixed latents (M, nz)
    for G. ``d_auc``: ROC-AUC of D's logits separating the real images (positive) from G's.
    G and D run in eval mode and are put back in their previous modes. About 256 images of each
    keep it cheap enough to call every epoch.
    """
    from .._utils.numeric import roc_auc
    from .sampling import sample_images

    module = feature_module(features)
    real = torch.as_tensor(real_fixed).float()
    _, fake = sample_images(G, len(fake_fixed_z), z=fake_fixed_z)
    q = quality_from_features(extract_features(module, real), extract_features(module, fake), k=k)
    dev = _device_of(D)
    was = D.training
    D.eval()
    try:
        with torch.no_grad():
            s = [D(x.to(dev)) for x in (real, fake)]
    finally:
        D.train(was)
    s = [(t[0] if isinstance(t, (tuple, list)) else t).float().reshape(len(x), -1)[:, 0].cpu()
         for t, x in zip(s, (real, fake))]
    y = np.r_[np.ones(len(real)), np.zeros(len(fake))]
    return {"fd": q.fd, "precision": q.precision, "recall": q.recall,
            "d_auc": roc_auc(y, torch.cat(s).numpy())}


# -- the stage -----------------------------------------------------------------------------------
@dataclass
class Config(StageConfig):
    stage = NAME
    checkpoint: str = param(required=True, help="GAN checkpoint (.pt) whose generator is measured", path=True)
    data: str = param(required=True, help="real images: data spec (synthfaces:N, celeba:DIR, STORE.h5 ...)")
    split: str = param("test", "split of --data that holds the real images", choices=("train", "val", "test", "all"))
    n: int = param(1000, "images per set; the split needs 2 x n (two real halves)", low=4)
    k: int = param(3, "neighbours defining the precision/recall manifolds", low=1)
    classifier: str | None = param(None, "classifier file whose penultimate features are the feature space "
                                         "[the shipped SynthFaces classifier]", path=True)
    n_boot: int = param(20, "bootstrap resamples of the FD intervals (0 = none)", low=0)
    seed: int = param(0, "seed of the latents, the real halves and the random-init generator", low=0)
    batch_size: int = param(256, "images per forward pass", low=1)
    device: str | None = param(None, "cpu, cuda, cuda:N [cuda when present]")
    features: object = param(None, "feature module (API only): (N, 3, 64, 64) in [-1, 1] -> (N, D)", cli=False)

    def check(self):
        if self.k >= self.n:
            raise XaiprobeError(f"--k {self.k}: must be below --n ({self.n})")
        if self.features is not None and self.classifier is not None:
            raise XaiprobeError("--classifier: give either a classifier or a feature module, not both")


@dataclass
class Result:
    config: Config
    sets: dict  # name -> QualityResult: generator, real, random
    n: int
    feature_dim: int
    features: str
    kind: str
    epoch: int
    figure: str | None = None
    info: dict = field(default_factory=dict)


SETS = {"generator": "checkpoint's G", "real": "real vs real", "random": "random-init G"}


def run(config: Config, run_dir) -> Result:
    """Measure the checkpoint's G, a second real half and a random-init G against one real half."""
    from .._layout import stage_dir
    from .._utils.device import resolve_device
    from .._utils.figures import write_json
    from ..data import load_dataset
    from .arch import arch_kind, build_models
    from .checkpoint import load_checkpoint

    dev = resolve_device(config.device)
    ck = load_checkpoint(config.checkpoint, dev)
    data = load_dataset(config.data)
    if tuple(data.image_shape) != (3, 64, 64):
        raise XaiprobeError(f"--data {config.data}: images are {data.image_shape}; quality needs (3, 64, 64)")
    rows = data.rows_of(config.split)
    if rows.size < 2 * config.n:
        raise XaiprobeError(f"--n {config.n}: the {config.split} split of {data.spec} has {rows.size} images and real "
                            f"vs real needs 2 x n; use --n {max(rows.size // 2, 1)} or more data")
    module = feature_module(config.features if config.features is not None else config.classifier, dev)
    dim = check_feature_module(module)
    rng = np.random.default_rng(config.seed)
    pick = rng.permutation(rows)[:2 * config.n]
    ref_rows, other_rows = np.sort(pick[:config.n]), np.sort(pick[config.n:])
    feats = lambda x: extract_features(module, x, config.batch_size)  # noqa: E731
    ref = feats(data.images(ref_rows))
    g_random = build_models(ck.arch, seed=config.seed + 1)["generator"].to(dev)
    if hasattr(ck.generator, "default_labels"):
        g_random.default_labels.copy_(ck.generator.default_labels)
    others = {"generator": feats(_images_of(ck.generator, config.n, config.seed, config.batch_size, dev)),
              "real": feats(data.images(other_rows)),
              "random": feats(_images_of(g_random, config.n, config.seed, config.batch_size, dev))}
    sets = {}
    for name, f in others.items():
        sets[name] = quality_from_features(ref, f, k=config.k, n_boot=config.n_boot, seed=config.seed)
        log.info("quality %s: FD %.3f precision %.3f recall %.3f", name, sets[name].fd, sets[name].precision,
                 sets[name].recall)
    what = ("shipped SynthFaces classifier, penultimate layer" if config.features is None and config.classifier is None
            else f"classifier {config.classifier}, penultimate layer" if config.classifier else type(module).__name__)
    res = Result(config, sets, config.n, dim, what, arch_kind(ck.arch), ck.epoch)
    out = stage_dir(run_dir, NAME)
    write_json(out / "quality.json", {"config": config.to_dict(), "n": res.n, "feature_dim": dim, "features": what,
                                      "sets": {k: v.to_dict() for k, v in sets.items()}})
    res.figure = _plot(res, out / "quality")
    return res


def _plot(res: Result, stem: Path) -> str:
    from .._utils.figures import savefig, styled, subplots

    @styled
    def draw():
        fig, axes = subplots(1, 3, figsize=(10, 3.0), layout="constrained")
        names = list(SETS)
        colors = ["#1f77b4", "#7f7f7f", "#d62728"]
        for ax, metric in zip(axes, ("fd", "precision", "recall")):
            vals = [getattr(res.sets[s], metric) for s in names]
            ci = [getattr(res.sets[s], f"{metric}_interval") for s in names]
            err = np.array([[v - lo if np.isfinite(lo) else 0 for v, (lo, _) in zip(vals, ci)],
                            [hi - v if np.isfinite(hi) else 0 for v, (_, hi) in zip(vals, ci)]])
            ax.bar(range(3), vals, yerr=np.clip(err, 0, None), color=colors, capsize=3)
            ax.set_xticks(range(3), [SETS[s] for s in names], rotation=15)
            ax.set_title({"fd": "Fréchet distance (lower is better)", "precision": "precision (fidelity)",
                          "recall": "recall (coverage)"}[metric])
            if metric != "fd":
                ax.set_ylim(0, 1.05)
        return fig

    savefig(draw(), stem)
    return Path(stem).with_suffix(".png").name


def _ci(r: QualityResult, m: str) -> str:
    from .._utils.numeric import fmt_interval

    lo, hi = getattr(r, f"{m}_interval")
    return fmt_interval(getattr(r, m), lo, hi)


def section(result: Result) -> Section:
    from .._utils.numeric import fmt

    g, real, rnd = (result.sets[s] for s in SETS)
    gap = (rnd.fd - g.fd) / (rnd.fd - real.fd) if rnd.fd > real.fd else float("nan")
    numbers = {"n": result.n, "k": result.config.k, "feature_dim": result.feature_dim, "epoch": result.epoch,
               "fd_gap_closed": gap}
    for key, r in (("", g), ("_real", real), ("_random", rnd)):
        for m in ("fd", "precision", "recall"):
            numbers[f"{m}{key}"] = getattr(r, m)
            lo, hi = getattr(r, f"{m}_interval")
            numbers[f"{m}{key}_lo"], numbers[f"{m}{key}_hi"] = lo, hi
    headline = (f"FD {_ci(g, 'fd')} (real vs real {fmt(real.fd)}, random-init G {fmt(rnd.fd)}); "
                f"precision {fmt(g.precision)}, recall {fmt(g.recall)}")
    ratio = g.fd / real.fd if real.fd > 0 else float("nan")
    first = (f"The generator closes {fmt(100 * gap, 1)}% of the FD gap between a random-init G ({fmt(rnd.fd)}) and "
             f"real images ({fmt(real.fd)}): FD {fmt(g.fd)}, {fmt(ratio, 1)}x the real-vs-real floor."
             if np.isfinite(gap) else
             f"FD {fmt(g.fd)}; the random-init G ({fmt(rnd.fd)}) is no farther from the real images than a second "
             f"real half ({fmt(real.fd)}), so this feature space does not tell generators apart here.")
    findings = [
        first,
        f"Precision {_ci(g, 'precision')}: that share of generated images lies on the real manifold "
        f"(real vs real {fmt(real.precision)}, random-init G {fmt(rnd.precision)}).",
        f"Recall {_ci(g, 'recall')}: that share of real images is covered by the generated manifold "
        f"(real vs real {fmt(real.recall)}, random-init G {fmt(rnd.recall)}).",
    ]
    if real.recall > 0 and g.recall < 0.5 * real.recall:
        findings.append(f"Recall is under half the real-vs-real recall: the generator covers few of the real modes "
                        "(mode collapse or dropping).")
    for name, r in (("generator", g), ("random", rnd)):
        if r.precision >= 0.5 and r.recall < 0.1:
            label = SETS[name][:1].upper() + SETS[name][1:]
            findings.append(f"{label}: precision {fmt(r.precision)} with recall {fmt(r.recall)}: its samples sit "
                            "in a small part of the real manifold (collapse, or a narrower training distribution); "
                            "k-NN precision counts such samples as realistic, so read it with recall.")
    rows = [[SETS[s], r.fd, r.fd_interval[0], r.fd_interval[1], r.precision, r.recall, r.n_fake]
            for s, r in result.sets.items()]
    table = Table(f"Quality against {result.n} real images ({result.config.split} split of {result.config.data}), "
                  f"k={result.config.k}, {result.feature_dim}-d features",
                  ["set", "FD", "FD lo", "FD hi", "precision", "recall", "images"], rows)
    figures = []
    if result.figure:
        figures.append(Figure(result.figure, "FD, precision and recall beside their real and random scales",
                              "Bars: 95% bootstrap intervals (FD: the bootstrap spread around the estimate). "
                              f"Features: {result.features}, {FEATURE_CAPTION}."))
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=headline,
                   findings=findings + [f"Feature space: {result.features}, {result.feature_dim}-d "
                                        f"({FEATURE_CAPTION})."],
                   tables=[table], figures=figures, command=[result.config.command()], numbers=numbers)

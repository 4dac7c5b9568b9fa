"""The audit: load, check, learn directions, score them, run baselines and null controls.

Everything is validated before anything is written; outputs go to a temporary directory that
replaces ``RUN/audit/`` only at the end.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._utils.coerce import evaluating
from .._utils.errors import XaiprobeError
from ._config import NAME, Config
from ._features import build_feature_space
from ._generators import attribute_names_of, check_pair, load_generator
from ._methods import METHODS, MethodResult, evaluate_method, run_baselines, train_set
from ._report import compute_numbers, write_outputs
from ._metrics import chance_mrr, direction_changes, oracle_logits, top_changes
from ._null import direction_scores, dre_pair, run_null_audits
from ._train import make_pool, phase

log = logging.getLogger(__name__)

__all__ = ["AuditResult", "MethodResult", "METHODS", "run", "audit", "load_oracle"]


@dataclass
class AuditResult:
    """What an audit found; ``section(result)`` turns it into the report section.

    Attributes
    ----------
    directions : dict
        ``{"reference": LatentDirections, "client": LatentDirections}`` learned by xGA.
    records : list of dict
        One per xGA direction: side, index, role (common / missing / novel), top attribute
        changes, density-ratio score, flagged.
    methods : dict of MethodResult
        ``xga`` and the baselines.
    null : dict
        Threshold and flag counts of the null audits.
    rates : dict
        ``{"reference": [...], "client": [...]}``: the share of each GAN's samples in which the
        oracle sees each attribute (logit > 0), from the density-ratio samples.
    numbers : dict
        The key measured numbers (also the section's numbers).
    """

    config: Config
    reference: str
    client: str
    features: str
    uses_oracle: bool
    attribute_names: list
    missing: list
    novel: list
    directions: dict
    records: list
    methods: dict
    null: dict
    history: dict
    dre: dict
    cost: dict
    numbers: dict
    figures: list
    stage_dir: Path | None = None
    is_null: bool = False
    chance: dict = field(default_factory=dict)
    rates: dict = field(default_factory=dict)


def load_oracle(classifier=None, device="cpu"):
    """The attribute classifier: an nn.Module with ``attribute_names``, a path, or None (shipped)."""
    from torch import nn

    if isinstance(classifier, nn.Module):
        clf = classifier                   # a caller's module: used as it is (eval mode only while the audit runs)
    else:
        from ..editing import load_classifier

        clf = load_classifier(classifier or None, device=device).eval()
    names = getattr(clf, "attribute_names", None)
    if not names:
        raise XaiprobeError("classifier: it has no attribute_names; pass an xaiprobe attribute classifier")
    return clf


def _check_attributes(names, attrs, flag: str, source: str) -> list:
    for a in attrs:
        if a not in names:
            raise XaiprobeError(f"{flag} {a}: the classifier has no attribute {a!r} ({source}); it has "
                                f"{', '.join(names)}; pass a classifier with it or another attribute")
    return list(attrs)


def _resolve(cfg: Config, device):
    ref = load_generator(cfg.reference_model if cfg.reference_model is not None else cfg.reference, "reference", device)
    if cfg.discriminator_model is not None:
        ref.discriminator = cfg.discriminator_model
    client = load_generator(cfg.client_model if cfg.client_model is not None else cfg.client, "client", device)
    is_null = check_pair(ref, client)
    null = None
    if cfg.null_model is not None or cfg.null:
        null = load_generator(cfg.null_model if cfg.null_model is not None else cfg.null, "null", device)
        check_pair(ref, null, "null")
    oracle = load_oracle(cfg.classifier_model if cfg.classifier_model is not None else cfg.classifier, device)
    names = list(oracle.attribute_names)
    # recorded exclusions: what the client's data left out is missing from it, what the reference's
    # left out is novel to the client (an attribute both left out is neither)
    ex_client, ex_ref = attribute_names_of(client.exclusions), attribute_names_of(ref.exclusions)
    missing = _check_attributes(names, cfg.missing or [a for a in ex_client if a not in ex_ref], "--missing",
                                "given" if cfg.missing else f"recorded in {client.label}")
    novel = _check_attributes(names, cfg.novel or [a for a in ex_ref if a not in ex_client], "--novel",
                              "given" if cfg.novel else f"recorded in {ref.label}")
    if is_null:
        missing, novel = [], []
    return ref, client, null, oracle, names, missing, novel, is_null


def _evaluation_latents(cfg, ref, client, oracle, space, device):
    """Seeded evaluation latents per role and, per GAN, the oracle logits and features of their images."""
    gen = torch.Generator().manual_seed(cfg.seed + 4)
    z_eval = {r: torch.randn(cfg.eval_samples, ref.nz, generator=gen).to(device)
              for r in ("reference", "client", "client_null")}
    base = {}
    with torch.no_grad():
        for role, g in (("reference", ref), ("client", client)):
            with evaluating(g.module):
                x = torch.cat([g.module(z_eval[role][i:i + 64]) for i in range(0, cfg.eval_samples, 64)])
            feats = torch.cat([space(x[i:i + 64]).float() for i in range(0, len(x), 64)])
            base[role] = (oracle_logits(oracle, x), feats)
    return z_eval, base


def _evaluate_xga(cfg, ref, client, dirs, z_eval, base, oracle, space, dens, names, missing, novel):
    """xGA's metrics ({"xga": MethodResult}) and one record per direction (top changes, score)."""
    ev = {role: direction_changes(g.module, d, z_eval[role], oracle, base[role][0], space)
          for role, g, d in (("reference", ref, dirs[0]), ("client", client, dirs[1]))}
    methods = {"xga": evaluate_method("xga", ev["reference"][0].numpy(), ev["client"][0].numpy(), cfg.k_common,
                                      False, names, missing, novel, cfg.seed)}
    records = []
    for side, (role, g) in enumerate((("reference", ref), ("client", client))):
        changes, feats = ev[role]
        scores = direction_scores(cfg, g.module, dirs[side], z_eval[role], base[role][1], dens["score"][side],
                                  space, feats)
        for k, (sc, sign) in enumerate(scores):
            mean = changes[k].mean(0).numpy()
            records.append({"side": role, "index": k,
                            "role": "common" if k < cfg.k_common else ("missing" if side == 0 else "novel"),
                            "top": top_changes(mean, names, 3), "mean_change": mean.tolist(), "dr_score": sc,
                            "dr_sign": sign, "flagged": None})
    return methods, records


def run(config: Config, run_dir) -> AuditResult:
    """Run the audit stage (the CLI's ``xaiprobe audit``); figures are written to ``RUN/audit/``."""
    from .._utils.coerce import resolve_device

    cfg = config
    t_start, c_start = time.perf_counter(), time.process_time()
    device = resolve_device(None if cfg.device == "auto" else cfg.device)
    ref, client, null_gen, oracle, names, missing, novel, is_null = _resolve(cfg, device)
    cost = {}
    with phase(cost, "feature space"):
        space = build_feature_space(cfg.features_model if cfg.features_model is not None else cfg.features, ref,
                                    oracle, seed=cfg.seed, device=device,
                                    selfsup={"path": cfg.selfsup_weights} if cfg.selfsup_weights else None)
    with contextlib.ExitStack() as stack:      # a caller's oracle / feature modules: eval mode, restored after
        stack.enter_context(evaluating(oracle))
        stack.enter_context(evaluating(space))
        return _audit_body(cfg, run_dir, device, ref, client, null_gen, oracle, names, missing, novel, is_null, space,
                           cost, t_start, c_start)


def _audit_body(cfg, run_dir, device, ref, client, null_gen, oracle, names, missing, novel, is_null, space, cost,
                t_start, c_start) -> AuditResult:
    from .._layout import stage_dir
    from .._utils.io import ensure_writable_dir

    out_dir = stage_dir(run_dir, NAME)
    ensure_writable_dir(Path(run_dir))
    nz = ref.nz

    # pools, density ratios, xGA
    with phase(cost, "pools and density ratios"):
        pools = [make_pool(ref.module, space, cfg.dre_samples, nz, cfg.seed + 1, device=device, oracle=oracle),
                 make_pool(client.module, space, cfg.dre_samples, nz, cfg.seed + 2, device=device, oracle=oracle)]
        # how often the oracle sees each attribute in each GAN's samples: is the ground truth true?
        rates = {role: (p.logits > 0).float().mean(0).cpu().tolist() for role, p in zip(("reference", "client"), pools)}
        if cfg.standardize:   # from here on the feature space returns standardized features
            space.fit_scale(torch.cat([p.features for p in pools]))
            for p in pools:
                p.features = space.standardized(p.features)
        dens = dre_pair(cfg, pools[0], pools[1], cfg.seed + 3)
    with phase(cost, "xGA directions"):
        dirs, hist = train_set(cfg, [ref, client], space, pools, density=dens["train"], dre_lambda=cfg.dre_lambda)

    # evaluation latents, base logits and features; xGA's metrics and direction records
    with phase(cost, "evaluation"):
        z_eval, base = _evaluation_latents(cfg, ref, client, oracle, space, device)
        methods, records = _evaluate_xga(cfg, ref, client, dirs, z_eval, base, oracle, space, dens, names, missing,
                                         novel)

    # baselines
    histories = {"xga": hist.contrastive}
    if cfg.baselines:
        more, more_hist = run_baselines(cfg, ref, client, space, pools, z_eval, base, oracle, names, missing, novel,
                                        cost)
        methods.update(more)
        histories.update(more_hist)

    # null audits: the threshold is calibrated on the first (every direction's score), flags counted in each
    null = run_null_audits(cfg, ref, null_gen, space, pools[0], z_eval, base["reference"][1], cost)
    for rec in records:
        if rec["role"] != "common" and np.isfinite(null["threshold"]):
            rec["flagged"] = bool(rec["dr_score"] > null["threshold"])

    # chance
    A = len(names)
    u = cfg.k - cfg.k_common
    chance = {"missing": chance_mrr(u, A) if missing else float("nan"),
              "novel": chance_mrr(u, A) if novel else float("nan")}
    cost["total"] = (time.perf_counter() - t_start, time.process_time() - c_start)
    result = AuditResult(cfg, ref.label, client.label, space.name, space.uses_oracle, names, missing, novel,
                         {"reference": dirs[0], "client": dirs[1]}, records, methods, null,
                         {**histories, "seconds_per_iteration": hist.seconds_per_iteration,
                          "density": hist.density}, {"auc_reference_dirs": dens["score"][0].auc_,
                                                     "auc_client_dirs": dens["score"][1].auc_},
                         cost, {}, [], out_dir, is_null, chance, rates)
    result.numbers = compute_numbers(result)
    _write(result, cfg, ref, client, out_dir, z_eval)
    return result


def _write(result, cfg, ref, client, out_dir: Path, z_eval) -> None:
    """Figures and the directions file into a temporary directory that then replaces ``out_dir``."""
    import os
    import tempfile

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)
    try:
        result.figures = write_outputs(result, tmp, ref.module, client.module, z_eval)
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
            os.replace(out_dir, old / "x")
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def audit(reference, client, run_dir=None, **options) -> AuditResult:
    """Audit ``client`` against ``reference``: common, novel and missing attributes.

    Parameters
    ----------
    reference, client : path, nn.Module or ``pkg.module:factory``
        Generators z (n, nz) -> images (n, C, H, W) with the same image and latent sizes.
    run_dir : path, optional
        Where ``audit/`` (figures, directions) and its section go; default a temporary
        directory (the figures are then at ``result.stage_dir`` until it is cleaned up).
    **options
        Any :class:`Config` field: ``null``, ``classifier`` (path or module), ``features``
        (name or module), ``missing``, ``novel``, ``k``, ``k_common``, ``iterations`` ...

    Returns
    -------
    AuditResult (``result.numbers`` holds the measured numbers).
    """
    import tempfile

    from torch import nn

    from .. import audit as stage_module
    from ..stages import execute

    kw = dict(options)
    for key, value in (("reference", reference), ("client", client), ("null", kw.pop("null", None)),
                       ("classifier", kw.pop("classifier", None)), ("features", kw.pop("features", None)),
                       ("discriminator", kw.pop("discriminator", None))):
        if value is None:
            continue
        if isinstance(value, nn.Module):
            kw[f"{key}_model"] = value
        elif key != "discriminator":
            kw[key] = value
    cfg = Config(**kw)
    if run_dir is None:
        run_dir = tempfile.mkdtemp(prefix="xaiprobe-audit-")
    result, _ = execute(stage_module, cfg, run_dir)
    return result

"""The training stage of a run: sample grid and loss curves of a checkpoint, for the report."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt

from .style import add_figure_entry, savefig, write_json


#: readable legend entries for the D outputs train_gan records (pytorch/examples dcgan's names)
_D_OUTPUT_LABELS = {"d_x": "D(x), real images", "d_g_z1": "D(G(z)) before D's step",
                    "d_g_z2": "D(G(z)) after D's step"}


def plot_training_history(history: list[dict]):
    """Loss and D-output curves per epoch. Returns (fig, axes)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = [h["epoch"] for h in history]
    for key, label in (("loss_d", "D loss"), ("loss_g", "G loss")):
        if history and key in history[0]:
            axes[0].plot(epochs, [h[key] for h in history], marker="o", label=label)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("mean BCE loss")
    axes[0].legend()
    for key in [k for k in (history[0] if history else {}) if k.startswith("d_")]:
        axes[1].plot(epochs, [h[key] for h in history], marker="o", label=_D_OUTPUT_LABELS.get(key, key))
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("mean sigmoid(D)")
    axes[1].set_ylim(0, 1)
    if axes[1].lines:
        axes[1].legend()
    fig.suptitle("Training history")
    return fig, axes


def write_training_stage(checkpoint, out_dir: str | os.PathLike, command: str = "", n: int = 64, seed: int = 0) -> Path:
    """Write OUT/summary.json, a sample grid and loss curves for a loaded Checkpoint."""
    from ..gan.dcgan import count_parameters
    from ..gan.sampling import save_sample_grid

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_sample_grid(checkpoint.generator, out / "samples.png", n=n, seed=seed)
    add_figure_entry(out, "samples.png", f"{n} images G draws from fixed latents (seed {seed}) after epoch "
                     f"{checkpoint.epoch}: the faces the discriminator learned to judge.", "Generator samples")
    extra = checkpoint.raw.get("extra") or {}
    history = list(extra.get("history") or [])
    from ..gan.arch import LABELS

    findings = [f"{LABELS.get(checkpoint.kind, checkpoint.kind)} with G {count_parameters(checkpoint.generator):,} and D "
                f"{count_parameters(checkpoint.discriminator):,} "
                f"parameters, trained {checkpoint.epoch} epochs on {len(checkpoint.members):,} images of "
                f"{checkpoint.data.get('spec', '?')}."]
    if history:
        fig, _ = plot_training_history(history)
        savefig(fig, out / "history")
        last = history[-1]
        add_figure_entry(out, "history.png", f"Mean losses and D outputs per epoch; last epoch D loss "
                         f"{last.get('loss_d', float('nan')):.3f}, G loss {last.get('loss_g', float('nan')):.3f}.",
                         "Training history")
        if "time_s" in last:
            findings.append(f"Training took {last['time_s'] / 60:.1f} min for {checkpoint.epoch} epochs.")
    cols = list(history[0]) if history else []
    write_json(out / "summary.json", {
        "stage": "train", "command": command or f"xaiprobe train --data {checkpoint.data.get('spec', 'synthfaces')} "
        f"--epochs {checkpoint.epoch} --out RUN",
        "findings": findings, "epoch": checkpoint.epoch, "arch": checkpoint.arch, "data": checkpoint.data,
        "tables": [{"title": "Per-epoch history", "columns": cols, "rows": [[h.get(c) for c in cols] for h in history]}]
        if history else [],
    })
    return out

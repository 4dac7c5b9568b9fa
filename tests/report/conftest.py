import numpy as np
import pytest

from xaiprobe._utils.figures import savefig, subplots
from xaiprobe.report import Figure, Section, Table


@pytest.fixture
def make_stage():
    def make(run, stage, order=50, n_fig=1, headline=None):
        d = run / stage
        d.mkdir(parents=True, exist_ok=True)
        figs = []
        for i in range(n_fig):
            fig, ax = subplots(figsize=(3, 2))
            ax.plot(np.arange(5), np.arange(5) ** (i + 1))
            savefig(fig, d / f"fig{i}")
            figs.append(Figure(f"fig{i}.png", f"{stage} {i}", f"{stage} figure {i} rises"))
        sec = Section(stage=stage, title=stage.capitalize(), order=order,
                      headline=headline if headline is not None else f"{stage} headline 0.91 [0.88, 0.94]",
                      findings=[f"{stage} found something"], figures=figs,
                      tables=[Table("numbers", ["layer", "auc"], [["conv1", 0.61], ["conv2", float("nan")]])],
                      command=[f"xaiprobe {stage} --out x"], numbers={"auc": 0.61})
        sec.save(d)
        return sec
    return make

"""A minimal stage written to the contract: the whole of what adding a stage takes.

It fits a least-squares line to noisy points and reports the slope with a bootstrap interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xaiprobe.config import StageConfig, param
from xaiprobe.report import Section, Table

NAME = "toy"
TITLE = "Toy stage"
ORDER = 999
HELP = "fit a line to noisy points (a test stage)"


@dataclass
class Config(StageConfig):
    stage = NAME
    n: int = param(50, "number of points", low=3)
    slope: float = param(2.0, "true slope of the planted line")
    noise: float = param(0.1, "noise standard deviation", low=0)
    seed: int = param(0, "random seed", low=0)


@dataclass
class Result:
    config: Config
    slope: float


def run(config: Config, run_dir) -> Result:
    rng = np.random.default_rng(config.seed)
    x = rng.normal(size=config.n)
    y = config.slope * x + config.noise * rng.normal(size=config.n)
    return Result(config, float(np.polyfit(x, y, 1)[0]))


def section(result: Result) -> Section:
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=f"slope {result.slope:.3f}",
                   findings=[f"slope {result.slope:.3f} (planted {result.config.slope:g})"],
                   tables=[Table("fit", ["quantity", "value"], [["slope", result.slope]])],
                   command=[result.config.command()], numbers={"slope": result.slope})

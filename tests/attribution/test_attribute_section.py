"""The attribution section: its tables and numbers come from the measurements; its command reruns them."""
from __future__ import annotations

import json
import shlex
import shutil

import numpy as np
import pytest
import torch

from xaiprobe._utils.figures import write_json
from xaiprobe.attribution import AttributionMethod, localize, run_attribution, sanity_check
from xaiprobe.attribution._attribute_section import (localization_findings, localization_table, sanity_findings,
                                                     sanity_table, target_numbers)
from xaiprobe.cli.main import main
from xaiprobe.report import Section

from .attr_helpers import QuadrantD, box_imageset, quadrant_mask
from .test_attribute_cli import _probe


class ConstantMap(AttributionMethod):
    """A broken "attribution" whose map is the same value everywhere."""

    name = "constant"
    needs_grad = False

    def _attribute(self, images, target, kw):
        return torch.ones(images.shape[0], *images.shape[2:])


def _from_json(tmp_path, obj):
    write_json(tmp_path / "x.json", obj)
    return json.loads((tmp_path / "x.json").read_text())


def test_sanity_numbers_and_table_flag_only_the_constant_map_method(images, tmp_path):
    res = sanity_check(QuadrantD(), images[:4], ["saliency", "ig", ConstantMap], seed=0)
    sanity = _from_json(tmp_path, {**res.to_dict(), "n_images": 4})  # as read back from targets.json
    num = target_numbers({"target": "logit", "sanity": sanity})
    assert [num[f"sanity/logit/{m}/flagged"] for m in ("saliency", "ig", "constant")] == [False, False, True]
    assert num["sanity/logit/ig/rho"] == pytest.approx(res.spearman[1, -1])
    assert np.isnan(num["sanity/logit/constant/rho"])
    table = sanity_table(sanity, "logit")
    assert [r[0] for r in table.rows] == ["saliency", "ig", "constant"]
    assert len(table.columns) == 1 + len(res.steps) + 1
    assert [r[-1] for r in table.rows] == ["no", "no", "yes"]
    assert table.rows[2][-2] == "—"  # a constant map has no rank correlation
    assert len(sanity_findings(sanity, "logit")) == 2  # the passing methods, then the flagged one


def test_localization_numbers_follow_the_measurements():
    data = box_imageset(12)
    data.masks = lambda rows: {"quad": quadrant_mask(len(np.asarray(rows)))}
    res = localize(QuadrantD(), data, ["saliency", "ig", "gradcam"], concepts={"Smiling": "quad"}, n=8,
                   target="logit", layer="conv1")
    loc = res.to_dict()
    num = target_numbers({"target": "logit", "localization": loc})
    for r in res.rows:
        assert num[f"localization/logit/Smiling/{r['method']}/ratio"] == r["ratio"]
        assert num[f"localization/logit/Smiling/{r['method']}/pointing"] == r["pointing"]
    table = localization_table(loc, "logit")
    assert [(r[0], r[1]) for r in table.rows] == [("Smiling (quad)", m) for m in ("saliency", "ig", "gradcam")]
    assert [r[5] for r in table.rows] == [r["ratio"] for r in res.rows]
    assert len(localization_findings(loc)) == 1  # one concept: its best method


@pytest.fixture(scope="module")
def logit_run(tiny_run):
    """RUN/attribution after one logit run (saliency, gradcam; sanity check and localization)."""
    ck = tiny_run / "checkpoints" / "last.pt"
    run_attribution(tiny_run, checkpoint=ck, images="synthfaces:40:0", methods="saliency,gradcam", n=4, split="all",
                    sanity_n=2, localization_n=3)
    return ck, tiny_run


def test_section_of_one_target(logit_run):
    ck, run = logit_run
    sec = Section.load(run / "attribution")
    assert [t.title.split(":")[0] for t in sec.tables] == ["Sanity check — logit", "Localization — logit"]
    assert [r[0] for r in sec.tables[0].rows] == ["saliency", "gradcam"]  # one row per method
    assert set(sec.numbers) >= {"sanity/logit/saliency/rho", "sanity/logit/gradcam/flagged"}
    (cmd,) = sec.command
    assert cmd.startswith(f"xaiprobe attribute --checkpoint {ck} ")


def test_recorded_command_reproduces_the_numbers(logit_run, tmp_path):
    _, run = logit_run
    sec = Section.load(run / "attribution")
    argv = shlex.split(sec.command[0])
    assert main(argv[1:] + ["--localization", "off", "--out", str(tmp_path)]) == 0
    again = Section.load(tmp_path / "attribution")
    for m in ("saliency", "gradcam"):
        assert again.numbers[f"sanity/logit/{m}/rho"] == pytest.approx(sec.numbers[f"sanity/logit/{m}/rho"])


def test_targets_accumulate_with_their_tables_and_commands(logit_run, tmp_path):
    ck, first = logit_run
    run = tmp_path / "run"
    shutil.copytree(first / "attribution", run / "attribution")
    run_attribution(run, checkpoint=ck, images="synthfaces:40:0", methods="saliency",
                    target="concept:Smiling@conv3", probes=_probe(ck, tmp_path), n=3, split="all", sanity=False,
                    localization_n=2)
    stored = json.loads((run / "attribution" / "targets.json").read_text())
    assert list(stored["targets"]) == ["logit", "concept-Smiling-conv3"] and stored["last"] == "concept-Smiling-conv3"
    sec = Section.load(run / "attribution")
    assert [t.title.split(":")[0] for t in sec.tables] == ["Sanity check — logit", "Localization — logit",
                                                           "Localization — concept"]
    assert any(k.startswith("localization/concept:Smiling@conv3/") for k in sec.numbers)
    assert any(k.startswith("sanity/logit/") for k in sec.numbers)
    assert len(sec.command) == 2 and "--no-sanity" in sec.command[1]


def test_in_memory_model_has_numbers_but_no_command(images, tmp_path):
    res = run_attribution(tmp_path, model=QuadrantD(), image_data=images, methods="saliency", n=4, sanity_n=4,
                          localization="off")
    assert res.entry["command"] is None
    sec = Section.load(tmp_path / "attribution")
    assert sec.command == [] and sec.numbers["sanity/logit/saliency/flagged"] is False

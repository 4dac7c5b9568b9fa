"""The attribution stage's findings, tables and command, from the measured numbers."""
from __future__ import annotations

import json
import shlex
import shutil

import numpy as np
import pytest
import torch

from xaiprobe.attribution import AttributionMethod, localize, run_attribution, sanity_check
from xaiprobe.attribution.summary import (attribution_summary, localization_findings, localization_table,
                                          sanity_findings, sanity_table)
from xaiprobe.cli.main import build_parser, main
from xaiprobe.report.style import write_json

from .attr_helpers import QuadrantD, box_imageset, quadrant_mask


class ConstantMap(AttributionMethod):
    """A broken "attribution" whose map is the same value everywhere."""

    name = "constant"
    needs_grad = False

    def _attribute(self, images, target, kw):
        return torch.ones(images.shape[0], *images.shape[2:])


def _from_json(tmp_path, obj):
    write_json(tmp_path / "x.json", obj)
    return json.loads((tmp_path / "x.json").read_text())


def test_sanity_table_flags_only_the_constant_map_method(images, tmp_path):
    res = sanity_check(QuadrantD(), images[:4], ["saliency", "ig", ConstantMap], seed=0)
    sanity = _from_json(tmp_path, {**res.to_dict(), "n_images": 4})  # as read back from summary.json
    table = sanity_table(sanity, "logit")
    assert [r[0] for r in table["rows"]] == ["saliency", "ig", "constant"]
    assert len(table["columns"]) == 1 + len(res.steps) + 1
    flagged = {r[0]: r[-1] for r in table["rows"]}
    assert flagged == {"saliency": "no", "ig": "no", "constant": "yes"}
    assert table["rows"][2][-2] == "n/a (constant map)"
    assert table["rows"][0][-2].startswith(f"{res.spearman[0, -1]:.2f}")
    lines = sanity_findings(sanity, "logit")
    assert "saliency and ig pass" in lines[0] and f"{res.spearman[1, -1]:.2f} (ig)" in lines[0]
    assert "constant is flagged" in lines[1] and "constant" not in lines[0]


def test_model_sensitive_methods_flag_nothing(images):
    res = sanity_check(QuadrantD(), images[:4], ["saliency", "ig"], seed=0)
    sanity = res.to_dict()  # numpy arrays, as in memory
    assert [r[-1] for r in sanity_table(sanity, "logit")["rows"]] == ["no", "no"]
    assert not any("flagged —" in x for x in sanity_findings(sanity, "logit"))


def test_localization_findings_name_the_best_method_from_the_numbers():
    data = box_imageset(12)
    data.masks = lambda rows: {"quad": quadrant_mask(len(np.asarray(rows)))}
    res = localize(QuadrantD(), data, ["saliency", "ig", "gradcam"], concepts={"Smiling": "quad"}, n=8,
                   target="logit", layer="conv1")
    loc = res.to_dict()
    best = max(res.rows, key=lambda r: r["ratio"])
    line = localization_findings(loc)[0]
    assert line.startswith(f"Smiling (quad): best {best['method']}, {best['ratio']:.2f}× uniform")
    assert f"vs {100 * best['chance']:.0f}% chance" in line
    table = localization_table(loc, "logit")
    assert [(r[0], r[1]) for r in table["rows"]] == [("Smiling (quad)", m) for m in ("saliency", "ig", "gradcam")]


def test_localization_findings_rank_concepts_and_say_when_nothing_localizes():
    def row(concept, method, ratio, pointing=0.5):
        return {"concept": concept, "region": concept.lower(), "method": method, "target": "logit", "n": 4,
                "share": 0.1 * ratio, "area": 0.1, "ratio": ratio, "ratio_median": ratio, "pointing": pointing,
                "chance": 0.2}
    loc = {"tolerance": 3, "rows": [row("A", "ig", 0.9), row("A", "saliency", 0.8), row("B", "ig", 1.5),
                                    row("B", "gradcam", 3.0, pointing=0.1)]}
    lines = localization_findings(loc)
    assert lines[0].startswith("B localizes best, with gradcam: 3.00×") and "A least (best: ig 0.90×)" in lines[0]
    assert lines[1] == ("A (a): no method puts more positive attribution on the a than a uniform map would "
                        "(best ig 0.90×).")
    assert "best gradcam" in lines[2] and "no more often than chance" in lines[2]


@pytest.fixture(scope="module")
def logit_stage(tiny_run):
    """RUN/attribution after one logit run (saliency, gradcam; sanity check and localization)."""
    ck = tiny_run / "checkpoints" / "last.pt"
    out = tiny_run / "attribution"
    run_attribution(ck, "synthfaces:40:0", out, "saliency,gradcam", n=4, split="all", sanity_n=2, localization_n=3)
    return ck, out


def test_summary_tables_findings_and_command_of_one_target(logit_stage):
    ck, out = logit_stage
    s = json.loads((out / "summary.json").read_text())
    assert [t["title"].split(":")[0] for t in s["tables"]] == ["Sanity check — logit", "Localization — logit"]
    assert [r[0] for r in s["tables"][0]["rows"]] == ["saliency", "gradcam"]  # one row per method
    assert s["findings"] == attribution_summary(s["targets"])["findings"]
    assert s["findings"][0].startswith("Sanity check (logit): ")
    (cmd,) = s["command"]
    argv = shlex.split(cmd)
    args = build_parser().parse_args(argv[1:])
    assert argv[0] == "xaiprobe" and args.command == "attribute"
    assert (args.checkpoint, args.images, args.method, args.n, args.split, args.sanity_n, args.localization_n,
            args.out) == (str(ck), "synthfaces:40:0", ["saliency,gradcam"], 4, "all", 2, 3, str(out))


def test_recorded_command_reproduces_the_numbers(logit_stage, tmp_path):
    _, out = logit_stage
    s = json.loads((out / "summary.json").read_text())
    argv = shlex.split(s["command"][0].replace(str(out), str(tmp_path / "rerun")))
    assert main(argv[1:] + ["--localization", "off"]) == 0
    again = json.loads((tmp_path / "rerun" / "summary.json").read_text())["targets"]["logit"]
    np.testing.assert_allclose(again["sanity"]["spearman"], s["targets"]["logit"]["sanity"]["spearman"])


def test_targets_accumulate_with_their_tables_and_commands(logit_stage, tmp_path):
    from xaiprobe.activations.hooks import run_with_cache
    from xaiprobe.data import load_dataset
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.probes.linear import LinearProbe

    ck, first = logit_stage
    out = tmp_path / "attribution"
    shutil.copytree(first, out)
    data = load_dataset("synthfaces:40:0")
    _, cache = run_with_cache(load_checkpoint(ck).discriminator, data.images(), ["conv3"], pooling="mean")
    probe = LinearProbe(C=1.0, max_iter=30).fit(cache["conv3"].numpy(), data.labels,
                                                attribute_names=data.attribute_names)
    probe.save(tmp_path / "probe_conv3.pt", layer="conv3", attribute_names=data.attribute_names, pooling="mean")
    run_attribution(ck, "synthfaces:40:0", out, "saliency", target="concept:Smiling@conv3", probes=tmp_path, n=3,
                    split="all", sanity=False, localization_n=2)
    s = json.loads((out / "summary.json").read_text())
    assert list(s["targets"]) == ["logit", "concept-Smiling-conv3"] and s["last"] == "concept-Smiling-conv3"
    assert [t["title"].split(":")[0] for t in s["tables"]] == ["Sanity check — logit", "Localization — logit",
                                                                "Localization — concept"]
    assert all(x.startswith(("logit: ", "concept:Smiling@conv3: ", "Sanity check (logit)")) for x in s["findings"])
    assert any(x.startswith("concept:Smiling@conv3: ") for x in s["findings"])
    assert len(s["command"]) == 2 and "--target concept:Smiling@conv3 --probes" in s["command"][1]
    assert "--no-sanity" in s["command"][1]


def test_in_memory_model_has_findings_but_no_command(images, tmp_path):
    entry = run_attribution(model=QuadrantD(), images=images, out=tmp_path / "a", methods="saliency", n=4,
                            sanity_n=4, localization=False)
    assert "command" not in entry
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert s["command"] == [] and s["findings"][0].startswith("Sanity check (logit): saliency passes")

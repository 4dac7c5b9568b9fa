"""The audit on a planted toy pair: it finds what the client misses, and a null audit flags nothing."""
import json

import numpy as np

from xaiprobe.report import Section


def test_finds_the_missing_attribute_well_above_chance(toy_audit):
    result, _ = toy_audit
    n = result.numbers
    assert n["missing_mrr"] == 1.0
    assert n["missing_chance"] < 0.7 and n["missing_mrr"] - n["missing_chance"] > 0.3
    assert n["missing_rank.BlobC"] == 1
    # the ground truth holds in the samples: the oracle never sees blob C in the client's
    assert n["rate_client.BlobC"] < 0.05 and n["rate_reference.BlobC"] > 0.5
    # the missing directions leave the client's distribution; the threshold comes from the null audit
    assert np.isfinite(n["threshold"])
    assert n["flagged_missing"] >= 1


def test_null_audits_flag_nothing(toy_audit, self_audit):
    result, _ = toy_audit
    assert result.numbers["null_unique"] == 4 and result.numbers["null_flagged"] == 0
    selfr, _ = self_audit
    n = selfr.numbers
    assert n["is_null"] and np.isnan(n["missing_mrr"])          # nothing is excluded from itself
    assert n["flagged_missing"] == 0 and n["flagged_novel"] == 0
    assert n["null_flagged"] == 0


def test_density_ratio_models_tell_the_gans_apart_and_not_a_gan_from_itself(toy_audit, self_audit):
    assert toy_audit[0].numbers["dre_auc_reference_dirs"] > 0.75
    assert toy_audit[0].numbers["dre_auc_client_dirs"] > 0.75
    assert abs(self_audit[0].numbers["dre_auc_reference_dirs"] - 0.5) < 0.2


def test_baselines_and_chance_are_in_the_same_run(toy_audit):
    result, _ = toy_audit
    n = result.numbers
    for m in ("xga_nodre", "latentclr_gs", "sefa_gs", "random"):
        assert f"{m}.missing_mrr" in n and f"{m}.alignment" in n
    table = next(t for t in result_section(toy_audit).tables if t.title.startswith("Metrics"))
    assert [r[0] for r in table.rows][-1] == "chance"
    assert len(table.rows) == 6


def result_section(toy_audit):
    return Section.load(toy_audit[1] / "audit")


def test_outputs_are_complete_and_the_section_round_trips(toy_audit):
    result, run = toy_audit
    d = run / "audit"
    for f in ("common.png", "missing.png", "novel.png", "loss.png", "directions.pt", "audit.json", "section.json"):
        assert (d / f).is_file(), f
    assert not [p for p in run.iterdir() if p.name.startswith(".audit")]       # no temporary leftovers
    sec = Section.load(d)
    assert sec.numbers["missing_mrr"] == result.numbers["missing_mrr"]
    assert sec.headline.startswith("missing: BlobC found")
    assert "null directions flagged" in sec.headline
    assert {f.file for f in sec.figures} >= {"common.png", "missing.png", "loss.png"}
    assert sec.command[0].startswith("xaiprobe audit")
    records = json.loads((d / "audit.json").read_text())["records"]
    assert sum(r["role"] == "missing" for r in records) == 2


def test_learned_directions_are_unit_and_saved(toy_audit):
    import torch

    result, run = toy_audit
    dirs = result.directions["reference"]
    z = torch.randn(5, 8)
    assert torch.allclose(dirs.directions(z).norm(dim=2), torch.ones(4, 5), atol=1e-5)
    saved = torch.load(run / "audit" / "directions.pt", weights_only=True)
    assert saved["k"] == 4 and set(saved["directions"]) == {"reference", "client"}

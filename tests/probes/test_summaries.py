import numpy as np

from xaiprobe.probes.dynamics import Dynamics
from xaiprobe.probes.run import ProbeReport, _derive, _fill
from xaiprobe.probes.summaries import command_line, dynamics_findings, dynamics_tables, probe_findings, probe_tables, signed


def _report(shuffled=0.5):
    """Layer c2 reads Known beyond both baselines, Weak beyond them but weakly; Pixel is read as
    well by raw pixels."""
    rows = []
    trained = {("c1", "Known"): 0.7, ("c2", "Known"): 0.9, ("c1", "Pixel"): 0.9, ("c2", "Pixel"): 0.95,
               ("c1", "Weak"): 0.55, ("c2", "Weak"): 0.65}
    for (layer, a), auc in trained.items():
        rows.append(_fill({"layer": layer, "attribute": a, "source": "trained", "auc": auc, "auc_lo": auc - 0.04,
                           "auc_hi": auc + 0.04, "bacc": auc - 0.1, "n_test": 100}))
        rows.append(_fill({"layer": layer, "attribute": a, "source": "random_init", "auc": 0.6 if a != "Weak" else 0.5}))
        rows.append(_fill({"layer": layer, "attribute": a, "source": "shuffled", "auc": shuffled, "n_test": 100}))
    for a, auc in (("Known", 0.6), ("Pixel", 0.97), ("Weak", 0.52)):
        rows.append(_fill({"layer": "pixels", "attribute": a, "source": "pixels", "auc": auc}))
    rep = ProbeReport(rows, ["c1", "c2"], ["Known", "Pixel", "Weak"],
                      controls={"random_init": "done", "pixels": "done", "shuffled": "done"})
    _derive(rep)
    return rep


def test_probe_findings_say_what_beats_the_baselines():
    f = probe_findings(_report())
    assert f[0] == ("Best layer c2: mean AUC 0.833 over 3 attributes vs 0.567 for a random-init D and 0.697 from "
                    "8×8 pixels; weakest layer c1 (0.717).")
    assert f[1].startswith("The trained D reads 2 of 3 attributes beyond both baselines")
    assert "Known c2 0.900 [0.860, 0.940] vs 0.600 / 0.600" in f[1] and "Weak c2 0.650" in f[1] and "(weak)" in f[1]
    assert f[2].startswith("Not beyond the baselines") and "Pixel c2 0.950" in f[2]
    assert f[3].startswith("Shuffled-label controls sit at chance: mean AUC 0.500")
    assert "off chance" in probe_findings(_report(shuffled=0.62))[-1]


def test_probe_tables_columns_follow_the_controls():
    rep = _report()
    means, detail = probe_tables(rep)
    assert means["columns"][:5] == ["layer", "trained D", "random-init D", "8×8 pixels", "shuffled labels"]
    assert means["rows"][1][-1] == "2 of 3"
    assert len(detail["rows"]) == 6 and detail["rows"][0][:2] == ["c1", "Known"]
    rep.controls = {"shuffled": "done"}
    rep.rows = [r for r in rep.rows if r["source"] in ("trained", "shuffled")]
    means, detail = probe_tables(rep)
    assert "random-init D" not in means["columns"] and "Δ vs 8×8 pixels" not in detail["columns"]
    assert not any("beyond" in f for f in probe_findings(rep))


def test_dynamics_first_decodable_epoch_and_tables():
    values = {"Early": np.array([[0.8, 0.9, 0.9], [0.6, 0.7, 0.8]]),
              "Late": np.array([[0.5, 0.6, 0.8], [0.5, 0.55, 0.6]]),
              "Never": np.array([[0.5, 0.55, 0.6], [0.5, 0.5, 0.52]])}
    dyn = Dynamics([1, 2, 3], ["c3", "c4"], list(values), values)
    f = dynamics_findings(dyn)
    assert f[0].startswith("Decodable (AUC lower 95% bound ≥ 0.7 at some layer) from: Early at epoch 1 (c3 0.800); "
                           "Late at epoch 3 (c3 0.800)")
    assert f[1] == "Not decodable by epoch 3 (the bound never reaches 0.7): Never (best 0.600)."
    t1, t2 = dynamics_tables(dyn)
    assert t1["columns"] == ["layer", "epoch 1", "epoch 2", "epoch 3"]
    assert t1["rows"][0] == ["c3", "0.600", "0.683", "0.767"]
    assert t2["rows"][1] == ["Late", "0.500 (c3)", "0.600 (c3)", "0.800 (c3)"]


def test_command_line_and_formatting():
    assert command_line("probe", [("--activations", "a b.h5"), ("--layer", ["c1", "c2"]), ("--no-umap", True),
                                  ("--seed", None), ("--cs", [0.001, 0.1])]) == \
        "xaiprobe probe --activations 'a b.h5' --layer c1,c2 --no-umap --cs 0.001,0.1"
    assert signed(-1e-9) == "+0.000" and signed(float("nan")) == "—"

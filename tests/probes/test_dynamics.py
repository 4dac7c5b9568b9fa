import json
import shutil
import warnings

import numpy as np

from xaiprobe.probes._dynamics import Config, Dynamics, Result, dynamics_numbers, dynamics_tables, probe_checkpoints, section


def test_layer_epoch_heatmaps(tiny_run, tmp_path):
    from xaiprobe.testing.models import tiny_checkpoint

    ckdir = tmp_path / "run" / "checkpoints"
    ckdir.mkdir(parents=True)
    shutil.copy(tiny_run["checkpoint"], ckdir / "epoch_000.pt")
    tiny_checkpoint(ckdir / "epoch_002.pt", tiny_run["data"], seed=3)
    (ckdir / "last.pt").write_bytes(b"ignored")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dyn = probe_checkpoints(ckdir, data=tiny_run["data"], layers=["conv2", "conv3"],
                                attributes=["Blond_Hair", "Male"], n_boot=10)
    out = tmp_path / "run" / "dynamics"  # a stage of its own: the report's "Training dynamics"
    assert dyn.out_dir == out and dyn.epochs == [0, 2] and dyn.layers == ["conv2", "conv3"]
    assert dyn.values["Blond_Hair"].shape == (2, 2) and np.isfinite(dyn.values["Blond_Hair"]).all()
    for a in ("Blond_Hair", "Male"):
        assert (out / f"heatmap_{a}.png").is_file() and (out / f"heatmap_{a}.svg").is_file()
    saved = json.loads((out / "dynamics.json").read_text())
    assert len(saved["rows"]) == 2 * 2 * 2
    cfg = Config(checkpoints=str(ckdir), data=tiny_run["data"].spec, layers="conv2,conv3",
                 attributes="Blond_Hair,Male", bootstrap=10)
    sec = section(Result(cfg, dyn))
    assert {f.file for f in sec.figures} == {"heatmap_Blond_Hair.png", "heatmap_Male.png"}
    layer_epoch, per_attribute = sec.tables
    assert layer_epoch.columns == ["layer", "epoch 0", "epoch 2"]
    mean_conv3 = np.mean([dyn.values[a][1] for a in ("Blond_Hair", "Male")], axis=0)
    assert layer_epoch.rows[1] == ["conv3"] + [f"{x:.3f}" for x in mean_conv3]
    assert [r[0] for r in per_attribute.rows] == ["Blond_Hair", "Male"]
    assert sec.numbers["epochs"] == [0, 2] and sec.numbers["last_epoch"]["Male"]["conv3"] == dyn.values["Male"][1, 1]
    assert sec.command == [f"xaiprobe dynamics --checkpoints {ckdir} --data {tiny_run['data'].spec} "
                           "--layers conv2,conv3 --attributes Blond_Hair,Male --bootstrap 10"]


def test_first_decodable_epoch_and_tables():
    values = {"Early": np.array([[0.8, 0.9, 0.9], [0.6, 0.7, 0.8]]),
              "Late": np.array([[0.5, 0.6, 0.8], [0.5, 0.55, 0.6]]),
              "Never": np.array([[0.5, 0.55, 0.6], [0.5, 0.5, 0.52]])}
    dyn = Dynamics([1, 2, 3], ["c3", "c4"], list(values), values)
    assert dynamics_numbers(dyn)["first_decodable_epoch"] == {"Early": 1, "Late": 3, "Never": None}
    t1, t2 = dynamics_tables(dyn)
    assert t1.columns == ["layer", "epoch 1", "epoch 2", "epoch 3"]
    assert t1.rows[0] == ["c3", "0.600", "0.683", "0.767"]
    assert t2.rows[1] == ["Late", "0.500 (c3)", "0.600 (c3)", "0.800 (c3)"]

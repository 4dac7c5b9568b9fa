import json
import shutil
import warnings

import numpy as np

from xaiprobe.probes.dynamics import probe_checkpoints


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
    assert {f["file"] for f in json.loads((out / "figures.json").read_text())} == {"heatmap_Blond_Hair.png", "heatmap_Male.png"}
    summary = json.loads((out / "summary.json").read_text())
    layer_epoch, per_attribute = summary["tables"]
    assert layer_epoch["columns"] == ["layer", "epoch 0", "epoch 2"]
    mean_conv3 = np.mean([dyn.values[a][1] for a in ("Blond_Hair", "Male")], axis=0)
    assert layer_epoch["rows"][1] == ["conv3"] + [f"{x:.3f}" for x in mean_conv3]
    assert [r[0] for r in per_attribute["rows"]] == ["Blond_Hair", "Male"]
    assert summary["findings"] and any(f.startswith(("Decodable", "Not decodable")) for f in summary["findings"])
    assert summary["command"] == f"xaiprobe probe --checkpoints {ckdir} --data {tiny_run['data'].spec} " \
        "--layer conv2,conv3 --attribute Blond_Hair,Male --bootstrap 10"

import json
import warnings

import pytest

from xaiprobe.cli.main import main


def test_probe_cli_exit_2_cases(tiny_run, tmp_path, capsys):
    act = str(tiny_run["activations"])
    cases = [
        (["probe"], "exactly one of --activations FILE or --checkpoints DIR"),
        (["probe", "--activations", str(tmp_path / "none.h5")], "no such file"),
        (["probe", "--activations", act, "--layer", "conv9"], "it has conv1, conv2, conv3, conv4, conv5"),
        (["probe", "--activations", act, "--attribute", "Bald"], "it has Smiling, Eyeglasses"),
        (["probe", "--activations", act, "--cs", "a,b"], "--cs"),
        (["probe", "--checkpoints", str(tmp_path)], "no epoch_NNN.pt"),
        (["decode"], "decode: pass --activations FILE --out DIR"),
        (["decode", "--activations", act], "--out: required"),
        (["decode", "--decoders", str(tmp_path)], "--images: required"),
    ]
    for argv, msg in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, (argv, err)


def test_probe_and_decode_cli_round_trip(tiny_run, tmp_path, capsys):
    act = str(tiny_run["activations"])
    out = tmp_path / "probes"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["probe", "--activations", act, "--layer", "conv3", "--controls", "shuffled", "--no-umap",
                     "--bootstrap", "20", "--out", str(out)]) == 0
    assert "conv3" in capsys.readouterr().out
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["source"] for r in rows} == {"trained", "shuffled"}

    dec = tmp_path / "decoders"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["decode", "--activations", act, "--out", str(dec), "--layer", "conv2", "--layer", "conv4",
                     "--hidden", "16", "--epochs", "5", "--bootstrap", "20"]) == 0
    index = json.loads((dec / "decoders.json").read_text())
    assert [d["layer"] for d in index["decoders"]] == ["conv2", "conv4"]
    assert (dec / "decoder_conv2.pt").is_file() and (dec / "metrics.csv").is_file()

    applied = tmp_path / "applied"
    assert main(["decode", "--decoders", str(dec), "--checkpoint", str(tiny_run["checkpoint"]),
                 "--images", "generated:24", "--max-real", "40", "--out", str(applied)]) == 0
    lines = (applied / "concepts.csv").read_text().splitlines()
    assert len(lines) == 25 and lines[0].startswith("image,index,conv2/Smiling")
    dist = json.loads((applied / "concept_distribution.json").read_text())
    assert dist["real"] == tiny_run["data"].spec
    assert {r["concept"] for r in dist["rows"]} == set(tiny_run["data"].attribute_names)
    r0 = dist["rows"][0]
    assert 0 <= r0["generated_rate"] <= 1 and 0 <= r0["real_rate"] <= 1 and 0 <= r0["true_rate"] <= 1
    assert (applied / "concept_distribution.png").is_file() and (applied / "concept_distribution.svg").is_file()

    # a data spec: per-image probabilities, no generated-vs-real table
    assert main(["decode", "--decoders", str(dec), "--checkpoint", str(tiny_run["checkpoint"]),
                 "--images", tiny_run["data"].spec, "--out", str(tmp_path / "real")]) == 0
    assert len((tmp_path / "real" / "concepts.csv").read_text().splitlines()) == len(tiny_run["data"]) + 1
    assert main(["decode", "--decoders", str(dec), "--checkpoint", str(tiny_run["checkpoint"]),
                 "--images", "generated:x"]) == 2

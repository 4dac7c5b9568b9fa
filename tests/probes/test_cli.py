"""`xaiprobe probe`, `dynamics`, `decode`, `concepts` through xaiprobe.cli.main.main."""
import json
import warnings

from xaiprobe.cli.main import main
from xaiprobe.report import Section


def test_cli_exit_2_cases(tiny_run, tmp_path, capsys):
    act = str(tiny_run["activations"])
    run = str(tmp_path / "run")
    cases = [
        (["probe", "--activations", str(tmp_path / "none.h5"), "--out", run], "no such file"),
        (["probe", "--activations", act, "--layers", "conv9", "--out", run], "it has conv1, conv2, conv3, conv4, conv5"),
        (["probe", "--activations", act, "--attributes", "Bald", "--out", run], "it has Smiling, Eyeglasses"),
        (["probe", "--activations", act, "--cs", "a,b", "--out", run], "--cs 'a': not a number"),
        (["probe", "--activations", act, "--cs", "0,1", "--out", run], "--cs 0: out of range"),
        (["probe", "--activations", act, "--controls", "pixel", "--out", run], "not a valid choice"),
        (["dynamics", "--checkpoints", str(tmp_path), "--out", run], "no epoch_NNN.pt"),
        (["dynamics", "--checkpoints", str(tmp_path), "--pooling", "median", "--out", run], "pooling 'median'"),
        (["decode", "--activations", act, "--dropout", "1", "--out", run], "--dropout 1: out of range"),
        (["decode", "--activations", act, "--epochs", "0", "--out", run], "--epochs 0: out of range"),
        (["concepts", "--decoders", str(tmp_path), "--images", "generated:4", "--out", run], "--checkpoint"),
        (["concepts", "--decoders", str(tmp_path), "--images", "generated:x", "--checkpoint", "c.pt", "--out", run],
         "generated:N"),
    ]
    for argv, msg in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "run" / "probes").exists()


def test_probe_decode_concepts_round_trip(tiny_run, tmp_path, capsys):
    act = str(tiny_run["activations"])
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["probe", "--activations", act, "--layers", "conv3", "--controls", "shuffled", "--no-umap",
                     "--bootstrap", "20", "--out", str(run)]) == 0
    assert "conv3" in capsys.readouterr().out
    rows = json.loads((run / "probes" / "results.json").read_text())["rows"]
    assert {r["source"] for r in rows} == {"trained", "shuffled"}
    sec = Section.load(run / "probes")
    assert sec.order == 30 and sec.numbers["best_layer"] == "conv3"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["decode", "--activations", act, "--layers", "conv2,conv3", "--hidden", "16", "--epochs", "5",
                     "--bootstrap", "20", "--probes", str(run / "probes"), "--out", str(run)]) == 0
    index = json.loads((run / "decoders" / "decoders.json").read_text())
    assert [d["layer"] for d in index["decoders"]] == ["conv2", "conv3"]
    assert (run / "decoders" / "decoder_conv2.pt").is_file() and (run / "decoders" / "metrics.csv").is_file()
    sec = Section.load(run / "decoders")
    assert sec.order == 40 and set(sec.numbers["probe_mean_auc"]) == {"conv3"}

    assert main(["concepts", "--decoders", str(run / "decoders"), "--checkpoint", str(tiny_run["checkpoint"]),
                 "--images", "generated:24", "--max-real", "40", "--out", str(run)]) == 0
    lines = (run / "concepts" / "concepts.csv").read_text().splitlines()
    assert len(lines) == 25 and lines[0].startswith("image,index,conv2/Smiling")
    sec = Section.load(run / "concepts")
    assert sec.order == 45 and sec.numbers["real"] == tiny_run["data"].spec
    assert (run / "concepts" / "concept_distribution.png").is_file()

    # a data spec: per-image probabilities, no generated-vs-real table
    assert main(["concepts", "--decoders", str(run / "decoders"), "--checkpoint", str(tiny_run["checkpoint"]),
                 "--images", tiny_run["data"].spec, "--out", str(tmp_path / "real")]) == 0
    assert len((tmp_path / "real" / "concepts" / "concepts.csv").read_text().splitlines()) == len(tiny_run["data"]) + 1

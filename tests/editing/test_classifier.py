"""Attribute classifier: learns an easy SynthFaces attribute, round-trips safely, rejects bad input."""
import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.editing.classifier import (AttributeClassifier, classification_metrics, evaluate_classifier,
                                         format_metrics_table, load_classifier, save_classifier, train_classifier)


@pytest.fixture(scope="module")
def faces():
    from xaiprobe.testing.data import tiny_faces
    return tiny_faces(160)


@pytest.fixture(scope="module")
def trained(faces):
    return train_classifier(faces, epochs=3, batch_size=32, width=4, lr=5e-3, progress=False)


def test_classifier_beats_chance_on_blond_hair(faces, trained):
    held_out = np.concatenate([faces.rows_of("val"), faces.rows_of("test")])
    m = evaluate_classifier(trained, faces, rows=held_out)
    assert m["attributes"]["Blond_Hair"]["balanced_accuracy"] > 0.7
    assert m["mean_balanced_accuracy"] > 0.55
    assert len(trained.history_) == 3 and trained.metrics_["split"] == "val"
    assert "Blond_Hair" in format_metrics_table(m)


def test_roundtrip_is_weights_only(trained, tmp_path):
    path = save_classifier(tmp_path / "c.pt", trained)
    raw = torch.load(path, weights_only=True)
    assert raw["attribute_names"] == trained.attribute_names and raw["arch"]["width"] == 4
    c = load_classifier(path)
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    torch.testing.assert_close(c.score(x), trained.score(x))
    assert c.metrics_["attributes"]["Young"]["n"] == trained.metrics_["attributes"]["Young"]["n"]


def test_shapes_and_single_label_metrics():
    clf = AttributeClassifier(["0", "1", "2"], width=2, concept_type="single", stem_stride=1)
    assert clf(torch.zeros(2, 3, 64, 64)).shape == (2, 3)
    logits = torch.tensor([[3.0, 0, 0], [0, 2.0, 0], [0, 0, 1.0], [5.0, 0, 0]])
    labels = np.eye(3, dtype=np.int8)[[0, 1, 0, 0]]
    m = classification_metrics(logits, labels, ["0", "1", "2"], "single")
    assert m["accuracy"] == 0.75
    assert np.isnan(m["attributes"]["2"]["balanced_accuracy"])  # no positives: undefined, not 1.0
    assert m["attributes"]["1"]["balanced_accuracy"] == 1.0


def test_bad_classifier_input(tmp_path, faces):
    clf = AttributeClassifier(["Smiling", "Young"], width=2)
    with pytest.raises(XaiprobeError, match="it has Smiling, Young"):
        clf.attribute_index("Bald")
    with pytest.raises(XaiprobeError, match="no such file"):
        load_classifier(tmp_path / "none.pt")
    torch.save({"format": "something"}, tmp_path / "x.pt")
    with pytest.raises(XaiprobeError, match="not an xaiprobe classifier"):
        load_classifier(tmp_path / "x.pt")
    with pytest.raises(XaiprobeError, match="differ from the classifier"):
        evaluate_classifier(clf, faces)
    with pytest.raises(XaiprobeError, match="width"):
        AttributeClassifier(["a"], width=0)


def test_classifier_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "c.pt"
    rc = main(["classifier", "train", "--data", "synthfaces:40", "--out", str(out), "--epochs", "1",
               "--width", "2", "--batch-size", "16"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "val metrics" in text and "Eyeglasses" in text
    assert main(["classifier", "eval", "--classifier", str(out), "--data", "synthfaces:40", "--split", "test"]) == 0
    assert "balanced" in capsys.readouterr().out
    assert main(["classifier", "train", "--data", "synthfaces:40", "--out", str(out), "--epochs", "0"]) == 2
    assert "--epochs 0" in capsys.readouterr().err
    assert main(["classifier", "eval", "--classifier", str(tmp_path / "missing.pt"), "--data", "synthfaces:40"]) == 2
    assert main(["classifier"]) == 2

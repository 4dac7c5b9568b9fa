"""Attribute classifier: learns a planted attribute, features, safe round trip, the shipped asset, bad input."""
import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.data.base import ImageSet
from xaiprobe.editing.classifier import (AttributeClassifier, classification_metrics, evaluate_classifier,
                                         export_classifier, format_metrics_table, labeled_data, load_classifier,
                                         save_classifier, shipped_classifier_path, train_classifier)


def planted(n=160, seed=0) -> ImageSet:
    """Dark noise; Square: a bright 16x16 square somewhere; Blue: the blue channel raised (30%)."""
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 60, (n, 3, 64, 64), dtype=np.uint8)
    lab = np.stack([rng.random(n) < 0.5, rng.random(n) < 0.3], axis=1).astype(np.int8)
    for i in np.flatnonzero(lab[:, 0]):
        y, x = rng.integers(8, 40, 2)
        px[i, :, y:y + 16, x:x + 16] = 230
    px[lab[:, 1] == 1, 2] += 80
    split = np.array([0, 0, 0, 1, 0, 0, 0, 2] * (n // 8), dtype=np.uint8)
    return ImageSet(px, lab, ["Square", "Blue"], split, f"planted:{n}")


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def trained(data):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_classifier(data, epochs=3, batch_size=16, width=4, lr=1e-2, progress=False)
    finally:
        torch.set_num_threads(n)


def test_classifier_learns_planted_attributes(data, trained):
    held_out = np.concatenate([data.rows_of("val"), data.rows_of("test")])
    m = evaluate_classifier(trained, data, rows=held_out)
    assert m["attributes"]["Square"]["balanced_accuracy"] > 0.9
    assert m["attributes"]["Blue"]["balanced_accuracy"] > 0.9
    assert len(trained.history_) == 3 and trained.metrics_["split"] == "val"
    assert trained.test_metrics_["split"] == "test"
    table = format_metrics_table(trained.metrics_, trained.test_metrics_)
    assert "Square" in table and "test bal." in table


def test_features_are_the_penultimate_layer(trained):
    x = torch.rand(5, 3, 64, 64) * 2 - 1
    f = trained.features(x)
    assert f.shape == (5, 32) == (5, trained.num_features)
    torch.testing.assert_close(trained.fc(f), trained(x))
    torch.testing.assert_close(trained.embed(x, batch_size=2), f.detach())
    res = AttributeClassifier(["a"], width=2, arch="resnet18")
    assert res.features(x).shape == (5, 16)


def test_roundtrip_is_weights_only_and_export_halves_the_weights(trained, tmp_path):
    path = save_classifier(tmp_path / "c.pt", trained)
    raw = torch.load(path, weights_only=True)
    assert raw["attribute_names"] == ["Square", "Blue"] and raw["arch"]["width"] == 4
    c = load_classifier(path)
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    torch.testing.assert_close(c.score(x), trained.score(x))
    assert c.test_metrics_["attributes"]["Blue"]["n"] == trained.test_metrics_["attributes"]["Blue"]["n"]
    small = export_classifier(path, tmp_path / "half.pt")
    raw = torch.load(small, weights_only=True)
    assert raw["state_dict"]["fc.weight"].dtype == torch.float16
    h = load_classifier(small)
    assert next(h.parameters()).dtype == torch.float32
    torch.testing.assert_close(h.score(x), trained.score(x), atol=0.05, rtol=0.05)


def test_the_shipped_classifier_loads_without_a_path():
    if not shipped_classifier_path().is_file():
        pytest.skip("no shipped classifier in this checkout")
    clf = load_classifier()
    assert {"Smiling", "Eyeglasses", "Young", "Male", "Blond_Hair"} <= set(clf.attribute_names)
    assert shipped_classifier_path().stat().st_size <= 10e6
    raw = torch.load(shipped_classifier_path(), weights_only=True)
    assert all(v.dtype != torch.float32 for v in raw["state_dict"].values())
    assert clf.features(torch.zeros(2, 3, 64, 64)).shape == (2, clf.num_features)


def test_shapes_and_single_label_metrics():
    clf = AttributeClassifier(["0", "1", "2"], width=2, concept_type="single", stem_stride=1)
    assert clf(torch.zeros(2, 3, 64, 64)).shape == (2, 3)
    logits = torch.tensor([[3.0, 0, 0], [0, 2.0, 0], [0, 0, 1.0], [5.0, 0, 0]])
    labels = np.eye(3, dtype=np.int8)[[0, 1, 0, 0]]
    m = classification_metrics(logits, labels, ["0", "1", "2"], "single")
    assert m["accuracy"] == 0.75
    assert np.isnan(m["attributes"]["2"]["balanced_accuracy"])  # no positives: undefined, not 1.0
    assert m["attributes"]["1"]["balanced_accuracy"] == 1.0


def test_bad_classifier_input(tmp_path, data):
    clf = AttributeClassifier(["Smiling", "Young"], width=2)
    with pytest.raises(XaiprobeError, match="it has Smiling, Young"):
        clf.attribute_index("Bald")
    with pytest.raises(XaiprobeError, match="no such file"):
        load_classifier(tmp_path / "none.pt")
    torch.save({"format": "something"}, tmp_path / "x.pt")
    with pytest.raises(XaiprobeError, match="not an xaiprobe classifier"):
        load_classifier(tmp_path / "x.pt")
    with pytest.raises(XaiprobeError, match="differ from the classifier"):
        evaluate_classifier(clf, data)
    with pytest.raises(XaiprobeError, match="width"):
        AttributeClassifier(["a"], width=0)
    with pytest.raises(XaiprobeError, match="arch"):
        AttributeClassifier(["a"], arch="vgg")
    with pytest.raises(XaiprobeError, match="has no attribute Bald"):
        labeled_data(data, ["Square", "Bald"])
    assert labeled_data(data, ["Blue"]).labels.shape == (160, 1)


def test_classifier_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "c.pt"
    rc = main(["classifier", "train", "--data", "synthfaces:40", "--out", str(out), "--epochs", "1",
               "--width", "2", "--batch-size", "16"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "val metrics" in text and "Eyeglasses" in text and "Wearing_Hat" in text   # every attribute by default
    assert main(["classifier", "eval", "--classifier", str(out), "--split", "val,test"]) == 0
    text = capsys.readouterr().out
    assert "synthfaces:40" in text and "test balanced accuracy" in text and "Pale_Skin" in text
    assert main(["classifier", "export", "--classifier", str(out), "--out", str(tmp_path / "h.pt")]) == 0
    assert main(["classifier", "train", "--data", "synthfaces:40", "--out", str(out), "--epochs", "0"]) == 2
    assert "--epochs 0" in capsys.readouterr().err
    assert main(["classifier", "eval", "--classifier", str(tmp_path / "missing.pt"), "--data", "synthfaces:40"]) == 2
    assert main(["classifier"]) == 2


def test_a_classifier_without_the_attribute_asked_for_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    clf = save_classifier(tmp_path / "sy.pt", AttributeClassifier(["Smiling", "Young"], width=2), metrics={})
    rc = main(["classifier", "eval", "--classifier", str(clf), "--data", "synthfaces:20:0:attrs=Smiling,Male"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Male" in err and "Smiling, Young" in err

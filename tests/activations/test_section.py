"""The Activations section (extract and merge stages): what the file holds, rendered by the report."""
import re

import numpy as np
import pytest

import xaiprobe.activations as activations
from xaiprobe.activations import ActivationStore, Config, describe_store
from xaiprobe.report import Section
from xaiprobe.report.html import build_report
from xaiprobe.stages import execute


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """A tiny DCGAN on 20 SynthFaces extracted by the stage (every alias, avg2 pooling)."""
    from xaiprobe.testing.data import tiny_faces
    from xaiprobe.testing.models import tiny_checkpoint

    root = tmp_path_factory.mktemp("acts")
    data = tiny_faces(20)
    ck = tiny_checkpoint(root / "tiny.pt", data, seed=0)
    cfg = Config(checkpoint=str(ck), data=data.spec, layers="all", pooling="avg2")
    result, sec = execute(activations, cfg, root / "run")
    return root / "run", result, sec


def _section(text, sid):
    m = re.search(rf'<section id="{sid}">(.*?)</section>', text, flags=re.S)
    return m.group(1) if m else None


def test_section_numbers_and_layers(extracted):
    run_dir, result, sec = extracted
    assert Section.load(run_dir / "activations") == sec
    with ActivationStore(run_dir / "activations.h5") as store:
        layers = [(a, store.layer_attrs(a), store[a].shape) for a in store.layers]
        n = len(store)
        mb = sum(store[a].nbytes_on_disk for a in store.layers) / 1e6
    assert sec.numbers["images"] == n == 20 and sec.numbers["layers"] == 5
    assert sec.numbers["megabytes"] == pytest.approx(mb, abs=0.02)
    assert sec.numbers["features"] == {a: int(np.prod(shape[1:])) for a, _, shape in layers}
    table = sec.tables[1]
    for row, (alias, attrs, shape) in zip(table.rows, layers):
        cells = dict(zip(table.columns, row))
        assert (cells["layer"], cells["module path"]) == (alias, attrs["module_path"])
        assert cells["stored shape"] == "×".join(map(str, shape[1:])) and cells["pooling"] == "avg2"
        assert cells["records"] == attrs["records"]
    quantities = dict(sec.tables[0].rows)
    assert quantities["images"] == 20 and quantities["splits"] == "train 16 · val 2 · test 2"
    assert sec.command == [result.config.command()] == [describe_store(result.path)["command"]]


def test_report_renders_it_in_data_flow_order(extracted, tmp_path):
    import shutil

    run_dir, _, _ = extracted
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    Section(stage="probes", title="Linear probes", order=30, findings=["probes found something"],
            command=["xaiprobe probe"]).save(_mkdir(run / "probes"))
    text = build_report(run).read_text()
    sec = _section(text, "activations")
    assert sec is not None and '<a href="#activations">' in text
    ids = re.findall(r'<section id="([^"]+)">', text)
    assert ids.index("activations") < ids.index("probes")
    assert "<td>images</td><td>20</td>" in sec and "xaiprobe extract --checkpoint" in sec
    assert "<td>conv3</td><td>main.7</td><td>block output after LeakyReLU" in sec


def test_a_truncated_activation_file_does_not_touch_the_report(extracted, tmp_path):
    """The report reads sections only: a damaged RUN/activations.h5 cannot stop it."""
    run_dir, _, _ = extracted
    run = tmp_path / "run"
    run.mkdir()
    raw = (run_dir / "activations.h5").read_bytes()
    (run / "activations.h5").write_bytes(raw[: len(raw) // 3])
    Section(stage="probes", title="Linear probes", order=30, findings=["probes found something"],
            command=["xaiprobe probe"]).save(_mkdir(run / "probes"))
    text = build_report(run).read_text()
    assert _section(text, "activations") is None and _section(text, "probes") is not None


def _mkdir(p):
    p.mkdir(parents=True, exist_ok=True)
    return p

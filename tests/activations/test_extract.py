"""extract_activations: schema, values, resume, safety, members, generated images."""
from __future__ import annotations

import errno

import h5py
import numpy as np
import pytest
import torch

from .conftest import PlainD, SigmoidD, count_hooks
from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.activations import _extract as extract_mod
from xaiprobe.activations import _writer as writer_mod
from xaiprobe.activations import ActivationStore, extract_activations
from xaiprobe.activations._extract import partial_path
from xaiprobe.activations.hooks import run_with_cache
from xaiprobe.activations.plugin import load_discriminator
from xaiprobe.data.base import ImageSet
from xaiprobe.gan.checkpoint import load_checkpoint


def _datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def _same_files(a, b):
    da, db = _datasets(a), _datasets(b)
    assert sorted(da) == sorted(db)
    for k in da:
        assert np.array_equal(da[k], db[k]), k
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        skip = {"created", "command"}
        assert {k: str(v) for k, v in fa.attrs.items() if k not in skip} == {k: str(v) for k, v in fb.attrs.items() if k not in skip}


def test_schema_and_attrs(checkpoint, faces, tmp_path):
    out = extract_activations(checkpoint, faces, tmp_path / "a.h5", layers=["conv2", "conv4"], batch_size=16,
                              command="xaiprobe extract test", progress=False)
    assert out.exists() and not partial_path(out).exists()
    n = len(faces)
    with h5py.File(out, "r") as f:
        a = dict(f.attrs)
        assert a["format"] == "xaiprobe.activations" and a["version"] == 1 and bool(a["complete"])
        assert a["checkpoint_sha256"] == load_checkpoint(checkpoint).sha256
        assert a["command"] == "xaiprobe extract test" and a["xaiprobe_version"] and a["created"]
        assert int(a["rows_done"]) == n
        assert f["index"].shape == (n,) and f["index"].dtype == np.int64
        assert f["split"].dtype == np.uint8 and f["member"].dtype == bool
        assert f["labels"].shape == (n, len(faces.attribute_names)) and f["labels"].dtype == np.int8
        assert f["logits"].dtype == np.float32 and "latents" not in f
        ds = f["layers/conv2/activations"]
        assert ds.shape == (n, 8, 16, 16) and ds.dtype == np.float16 and ds.chunks[0] == 16
        assert ds.attrs["module_path"] == "main.4" and ds.attrs["pooling"] == "none"
        assert tuple(ds.attrs["full_shape"]) == (8, 16, 16)
    with ActivationStore(out) as s:
        assert s.attrs["arch"]["ndf"] == 4 and s.attrs["data"]["spec"] == faces.spec
        assert s.attribute_names == list(faces.attribute_names) and s.concept_type == faces.concept_type
        assert np.array_equal(s.labels, faces.labels) and np.array_equal(s.split, faces.split)
        assert np.array_equal(s.index, faces.index) and s.latents is None
        assert s.layers == ["conv2", "conv4"]


def test_values_equal_in_memory_run_with_cache(checkpoint, faces, tmp_path):
    D = load_checkpoint(checkpoint).discriminator.eval()
    out = extract_activations(checkpoint, faces, tmp_path / "a.h5", layers="all", batch_size=7, progress=False)
    out32 = extract_activations(checkpoint, faces, tmp_path / "b.h5", layers=["conv3"], pooling="avg2",
                                dtype="float32", compression="gzip", batch_size=16, progress=False)
    logits, cache = run_with_cache(D, faces.images(), "all")
    with ActivationStore(out) as s, ActivationStore(out32) as s32:
        for name, ref in cache.items():
            ref = ref.reshape(len(faces), -1).numpy()
            got = np.concatenate([block for _, block in s.iter_chunks(name, chunk_size=9)])
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())
        np.testing.assert_allclose(s.logits, logits.numpy(), rtol=1e-5, atol=1e-6)
        pooled = torch.nn.functional.adaptive_avg_pool2d(cache["conv3"], 2).reshape(len(faces), -1).numpy()
        np.testing.assert_allclose(s32.features("conv3"), pooled, rtol=1e-5, atol=1e-6)
        assert s32.layer_attrs("conv3")["full_shape"] == (16, 8, 8)
    assert count_hooks(D) == 0


def test_member_flags_match_checkpoint_members(checkpoint, faces, tmp_path):
    members = set(load_checkpoint(checkpoint).members.tolist())
    assert members  # the tiny checkpoint records its train rows
    out = extract_activations(checkpoint, faces, tmp_path / "a.h5", layers="conv1", pooling="mean", progress=False)
    with ActivationStore(out) as s:
        assert np.array_equal(s.member, np.array([i in members for i in s.index]))
        assert s.member.sum() == len(members)


def test_splits_and_members_override(checkpoint, faces, tmp_path):
    out = extract_activations(checkpoint, faces, tmp_path / "a.h5", layers="conv1", pooling="max",
                              splits="val,test", members=faces.index[:3], progress=False)
    with ActivationStore(out) as s:
        assert set(s.split.tolist()) == {1, 2} and len(s) == len(faces.rows_of(["val", "test"]))
        assert np.array_equal(s.member, np.isin(s.index, faces.index[:3]))
        assert len(s.rows_of("train")) == 0 and len(s.rows_of("val")) == (faces.split == 1).sum()


class Killed(RuntimeError):
    pass


def _kill_after(monkeypatch, k):
    original = extract_mod._iter_batches

    def dying(*args, **kwargs):
        for i, item in enumerate(original(*args, **kwargs)):
            if i == k:
                raise Killed("simulated kill")
            yield item
    monkeypatch.setattr(extract_mod, "_iter_batches", dying)


def test_resume_after_kill_gives_the_same_file(checkpoint, faces, tmp_path, monkeypatch):
    ref = extract_activations(checkpoint, faces, tmp_path / "ref.h5", layers=["conv1", "conv3"], batch_size=8,
                              compression="lzf", progress=False)
    out = tmp_path / "out.h5"
    _kill_after(monkeypatch, 2)
    with pytest.raises(Killed):
        extract_activations(checkpoint, faces, out, layers=["conv1", "conv3"], batch_size=8, compression="lzf", progress=False)
    assert not out.exists() and partial_path(out).exists()  # no file with the final name
    with h5py.File(partial_path(out), "r") as f:
        assert not f.attrs["complete"] and int(f.attrs["rows_done"]) == 16
    with pytest.raises(XaiprobeError, match="--resume"):
        ActivationStore(out)
    with pytest.raises(XaiprobeError, match="--resume"):  # not silently restarted
        extract_activations(checkpoint, faces, out, layers=["conv1", "conv3"], batch_size=8, compression="lzf", progress=False)
    monkeypatch.undo()
    seen = []
    original = extract_mod._iter_batches
    monkeypatch.setattr(extract_mod, "_iter_batches", lambda src, start, *a: (seen.append(start), original(src, start, *a))[1])
    extract_activations(checkpoint, faces, out, layers=["conv1", "conv3"], batch_size=8, compression="lzf",
                        resume=True, progress=False)
    assert seen == [16]  # continued after the last complete chunk
    assert not partial_path(out).exists()
    _same_files(ref, out)


def test_resume_checks_the_partial_file(checkpoint, faces, tmp_path, monkeypatch):
    out = tmp_path / "out.h5"
    with h5py.File(partial_path(out), "w") as f:
        f.create_dataset("x", data=np.arange(3))
    with pytest.raises(XaiprobeError, match="not an xaiprobe activations file"):
        extract_activations(checkpoint, faces, out, layers="conv1", resume=True, progress=False)
    partial_path(out).write_bytes(b"truncated garbage")
    with pytest.raises(XaiprobeError, match="not a readable HDF5"):
        extract_activations(checkpoint, faces, out, layers="conv1", resume=True, progress=False)
    partial_path(out).unlink()
    _kill_after(monkeypatch, 1)
    with pytest.raises(Killed):
        extract_activations(checkpoint, faces, out, layers="conv1", batch_size=8, progress=False)
    monkeypatch.undo()
    with pytest.raises(XaiprobeError, match="different layers"):
        extract_activations(checkpoint, faces, out, layers="conv2", batch_size=8, resume=True, progress=False)
    with pytest.raises(XaiprobeError, match="different data"):
        extract_activations(checkpoint, faces, out, layers="conv1", splits="train", batch_size=8, resume=True, progress=False)
    # --resume without a partial file simply runs
    fresh = extract_activations(checkpoint, faces, tmp_path / "fresh.h5", layers="conv1", resume=True, progress=False)
    assert fresh.exists()


def test_existing_output_needs_overwrite(checkpoint, faces, tmp_path):
    out = extract_activations(checkpoint, faces, tmp_path / "a.h5", layers="conv1", pooling="mean", progress=False)
    before = out.read_bytes()
    with pytest.raises(XaiprobeError, match="already exists.*--overwrite"):
        extract_activations(checkpoint, faces, out, layers="conv2", progress=False)
    assert out.read_bytes() == before
    extract_activations(checkpoint, faces, out, layers="conv2", overwrite=True, progress=False)
    with ActivationStore(out) as s:
        assert s.layers == ["conv2"]


def test_image_size_mismatch(checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    small = ImageSet(rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8), np.zeros((6, 1), np.int8), ["A"],
                     np.zeros(6, np.uint8), "small")
    with pytest.raises(XaiprobeError, match=r"\(3, 32, 32\).*expects \(3, 64, 64\)"):
        extract_activations(checkpoint, small, tmp_path / "a.h5", layers="conv1", progress=False)
    torch.manual_seed(0)
    with pytest.raises(XaiprobeError, match="image size"):  # a generic model: found by a trial forward
        extract_activations(PlainD(), small, tmp_path / "a.h5", layers="conv1", progress=False)
    assert not list(tmp_path.iterdir())


def test_output_dir_not_writable(checkpoint, faces, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(XaiprobeError, match="output directory"):
        extract_activations(checkpoint, faces, blocker / "sub" / "a.h5", layers="conv1", progress=False)


def test_disk_full_mid_write_keeps_partial(checkpoint, faces, tmp_path, monkeypatch):
    real = writer_mod.ChunkWriter.write_block
    calls = []

    def write_then_fail(self, lo, hi, arrays):
        calls.append(lo)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, lo, hi, arrays)
    monkeypatch.setattr(writer_mod.ChunkWriter, "write_block", write_then_fail)
    out = tmp_path / "a.h5"
    with pytest.raises(XaiprobeError, match="disk full.*--resume"):
        extract_activations(checkpoint, faces, out, layers="conv1", batch_size=8, progress=False)
    assert not out.exists() and partial_path(out).exists()
    with h5py.File(partial_path(out), "r") as f:
        assert not f.attrs["complete"] and int(f.attrs["rows_done"]) == 16


def test_generic_discriminator_and_logit_layer(faces, tmp_path):
    torch.manual_seed(0)
    D = PlainD().eval()
    out = extract_activations(D, faces, tmp_path / "a.h5", layers="all", pooling="mean", progress=False)
    with ActivationStore(out) as s:
        assert s.layers == ["conv1", "conv2", "conv3"] and s["conv2"].shape == (len(faces), 8)
        assert s.layer_attrs("conv3")["module_path"] == "head.1"
        assert s.layer_attrs("conv3")["records"] == "block output after LeakyReLU (Conv2d → LeakyReLU)"
        with torch.no_grad():
            np.testing.assert_allclose(s.logits, D(faces.images()).numpy(), rtol=1e-5, atol=1e-6)
        assert not s.member.any()
    torch.manual_seed(0)
    S = SigmoidD().eval()
    out = extract_activations(S, faces, tmp_path / "b.h5", layers="conv1", pooling="mean", logit_layer="head.3", progress=False)
    with ActivationStore(out) as s, torch.no_grad():
        np.testing.assert_allclose(1 / (1 + np.exp(-s.logits)), S(faces.images()).numpy(), rtol=1e-5, atol=1e-6)
        assert s.attrs["logit_layer"] == "head.3"


def test_generated_images(checkpoint, tmp_path):
    out = extract_activations(checkpoint, None, tmp_path / "g.h5", layers=["conv2"], pooling="mean",
                              generated=20, seed=3, batch_size=8, progress=False)
    ck = load_checkpoint(checkpoint)
    with ActivationStore(out) as s:
        assert s.latents.shape == (20, 8) and s.labels.shape == (20, 0) and s.attribute_names == []
        assert not s.member.any() and np.array_equal(s.index, np.arange(20)) and set(s.split) == {2}
        assert s.attrs["source"] == "generated" and s.attrs["data"]["seed"] == 3
        with torch.no_grad():
            x = ck.generator(torch.from_numpy(s.latents))
            logits, cache = run_with_cache(ck.discriminator, x, ["conv2"], pooling="mean")
        np.testing.assert_allclose(s.logits, logits.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(s.features("conv2"), cache["conv2"].numpy(), rtol=2e-3, atol=2e-3)
        first = s.latents.copy()
    again = extract_activations(checkpoint, None, tmp_path / "g2.h5", layers=["conv2"], pooling="mean",
                                generated=20, seed=3, batch_size=5, progress=False)
    with ActivationStore(again) as s:
        assert np.array_equal(s.latents, first)  # latents depend on (seed, row), not on batch size


def test_random_init_control(checkpoint, faces, tmp_path):
    a = load_discriminator(checkpoint=checkpoint, random_init=True, seed=1)
    b = load_discriminator(checkpoint=checkpoint, random_init=True, seed=1)
    trained = load_discriminator(checkpoint=checkpoint)
    wa, wb, wt = (m.discriminator.main[0].weight for m in (a, b, trained))
    assert torch.equal(wa, wb) and not torch.equal(wa, wt)
    out = extract_activations(a, faces, tmp_path / "r.h5", layers="conv1", pooling="mean", progress=False)
    with ActivationStore(out) as s:
        assert s.attrs["random_init"] and np.array_equal(s.member, np.isin(s.index, trained.members))


def test_bad_options(checkpoint, faces, tmp_path):
    for kwargs, match in [({"pooling": "median"}, "pooling"), ({"dtype": "int8"}, "dtype"),
                          ({"compression": "zstd"}, "compression"), ({"batch_size": 0}, "batch size"),
                          ({"shard": (2, 2)}, "shard"), ({"layers": "conv9"}, "valid layers are"),
                          ({"splits": "holdout"}, "split")]:
        with pytest.raises(XaiprobeError, match=match):
            extract_activations(checkpoint, faces, tmp_path / "a.h5", progress=False, **{"layers": "conv1", **kwargs})
    assert not list(tmp_path.iterdir())


CHILD = """
import sys
from xaiprobe.activations import _extract as em
from xaiprobe.testing.data import tiny_faces

orig = em._iter_batches

def announce(*a):
    for item in orig(*a):
        print("batch", item[0], flush=True)
        sys.stdin.readline()  # the parent decides when to go on (or kills us)
        yield item

em._iter_batches = announce
em.extract_activations(sys.argv[1], tiny_faces(40), sys.argv[2], layers="all", batch_size=4, compression="gzip",
                       progress=False, resume=len(sys.argv) > 3)
"""


def test_resume_after_real_sigkill(checkpoint, faces, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = tmp_path / "o.h5"
    proc = subprocess.Popen([sys.executable, str(script), str(checkpoint), str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    for _ in range(4):  # let 4 batches through, then SIGKILL while the 5th is pending
        assert proc.stdout.readline().startswith("batch")
        proc.stdin.write("\n")
        proc.stdin.flush()
    assert proc.stdout.readline().startswith("batch")
    proc.kill()
    proc.wait()
    assert not out.exists() and partial_path(out).exists()
    with h5py.File(partial_path(out), "r") as f:
        assert not f.attrs["complete"] and int(f.attrs["rows_done"]) <= 16
    with pytest.raises(XaiprobeError, match="--resume"):
        ActivationStore(out)
    done = subprocess.run([sys.executable, str(script), str(checkpoint), str(out), "resume"], input="\n" * 20,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ref = extract_activations(checkpoint, faces, tmp_path / "ref.h5", layers="all", batch_size=4, compression="gzip",
                              progress=False)
    da, db = _datasets(out), _datasets(ref)
    assert sorted(da) == sorted(db) and all(np.array_equal(da[k], db[k]) for k in da)


def test_interleaved_split_rows_read_correctly(checkpoint, faces, tmp_path):
    D = load_checkpoint(checkpoint).discriminator.eval()
    for split in ("train", "val,test"):
        rows = faces.rows_of(split.split(","))
        out = extract_activations(checkpoint, faces, tmp_path / f"{split}.h5", layers="conv2", pooling="mean",
                                  dtype="float32", splits=split, batch_size=16, progress=False)
        logits, cache = run_with_cache(D, faces.images(rows), "conv2", pooling="mean")
        with ActivationStore(out) as s:
            assert np.array_equal(s.index, faces.index[rows])
            np.testing.assert_allclose(s.features("conv2"), cache["conv2"].numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(s.logits, logits.numpy(), rtol=1e-5, atol=1e-6)


def test_chunks_align_with_batches_and_damaged_partial_is_one_error(checkpoint, faces, tmp_path, monkeypatch):
    out = tmp_path / "out.h5"
    _kill_after(monkeypatch, 2)
    with pytest.raises(Killed):
        extract_activations(checkpoint, faces, out, layers=["conv1", "conv3"], batch_size=8, compression="gzip",
                            progress=False)
    monkeypatch.undo()
    part = partial_path(out)
    with h5py.File(part, "r") as f:
        assert int(f.attrs["rows_done"]) == 16
        for name in ("index", "logits", "layers/conv1/activations", "layers/conv3/activations"):
            assert 8 % f[name].chunks[0] == 0  # no chunk spans two batches: none is ever rewritten
        info = f["layers/conv1/activations"].id.get_chunk_info_by_coord((8, 0, 0, 0))
    with open(part, "r+b") as fh:  # damage the compressed chunk holding rows 8..15 (before rows_done)
        fh.seek(info.byte_offset)
        fh.write(b"\xff" * min(info.size, 64))
    with pytest.raises(XaiprobeError, match=r"--resume: .*damaged.*--overwrite"):
        extract_activations(checkpoint, faces, out, layers=["conv1", "conv3"], batch_size=8, compression="gzip",
                            resume=True, progress=False)
    assert part.exists() and not out.exists()  # nothing lost, nothing made to look complete


def test_second_writer_of_the_same_output_is_refused_and_the_first_completes(checkpoint, faces, tmp_path):
    """Two extractions to one --out: the second refuses before touching the first one's partial file."""
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = tmp_path / "o.h5"
    proc = subprocess.Popen([sys.executable, str(script), str(checkpoint), str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("batch")  # the first writer holds OUT.partial, mid-extraction
        size = partial_path(out).stat().st_size
        for kwargs in ({}, {"overwrite": True}, {"resume": True}):
            with pytest.raises(XaiprobeError, match=r"another extraction \(pid \d+\) is writing this output") as e:
                extract_activations(checkpoint, faces, out, layers="all", batch_size=4, compression="gzip",
                                    progress=False, **kwargs)
            assert "\n" not in str(e.value)
        assert partial_path(out).stat().st_size >= size and not out.exists()
        proc.communicate("\n" * 20, timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0
    ref = extract_activations(checkpoint, faces, tmp_path / "ref.h5", layers="all", batch_size=4, compression="gzip",
                              progress=False)
    da, db = _datasets(out), _datasets(ref)
    assert sorted(da) == sorted(db) and all(np.array_equal(da[k], db[k]) for k in da)
    assert not list(tmp_path.glob(".*.lock"))


def test_a_file_failing_verification_never_takes_the_final_name(checkpoint, faces, tmp_path, monkeypatch):
    real = extract_mod._run

    def stops_short(f, D, source, layer_list, logit, pooling, tdtype, batch_size, n, part, out, progress):
        real(f, D, source, layer_list, logit, pooling, tdtype, batch_size, n, part, out, progress)
        with h5py.File(part, "r+") as g:  # marked complete, but with rows missing
            g.attrs["rows_done"] = n - 3

    monkeypatch.setattr(extract_mod, "_run", stops_short)
    out = tmp_path / "a.h5"
    with pytest.raises(XaiprobeError, match="failed verification") as e:
        extract_activations(checkpoint, faces, out, layers="conv1", batch_size=16, progress=False)
    assert "\n" not in str(e.value)
    assert not out.exists() and partial_path(out).exists()

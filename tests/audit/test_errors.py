"""Bad input: one clear line, exit 2 from the CLI, nothing written; and the CLI end to end."""
import logging
from pathlib import Path

import pytest

from xaiprobe import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.gan.checkpoint import save_checkpoint
from xaiprobe.gan.dcgan import DCGANConfig, build_dcgan

from .toy import BlobOracle, make_pair

TOY_FACTORY = f"{Path(__file__).with_name('toy.py')}:toy_factory"


def _checkpoint(path, nz=8, seed=0, exclude=None):
    cfg = DCGANConfig(nz=nz, ngf=4, ndf=4)
    G, D = build_dcgan(cfg, seed=seed)
    data = {"spec": "synthfaces:64", "split": "train", "max_images": None}
    if exclude:
        data["exclude"] = exclude
    return save_checkpoint(path, arch=cfg.to_dict(), generator=G.state_dict(), discriminator=D.state_dict(), epoch=0,
                           data=data, members=[])


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    return {"a": _checkpoint(d / "a.pt"), "b": _checkpoint(d / "b.pt", seed=1),
            "nz16": _checkpoint(d / "nz16.pt", nz=16), "noglasses": _checkpoint(d / "ng.pt", seed=2, exclude=["Eyeglasses"])}


def _cli_error(argv, run, capsys):
    assert main(argv + ["--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert not (run / "audit").exists()
    return err


def test_different_latent_sizes_are_refused(ckpts, tmp_path, capsys):
    err = _cli_error(["audit", "--reference", str(ckpts["a"]), "--client", str(ckpts["nz16"]),
                      "--features", "random"], tmp_path, capsys)
    assert "latent size 16" in err and "reference's is 8" in err


def test_different_image_sizes_are_refused(ckpts, tmp_path, capsys):
    err = _cli_error(["audit", "--reference", str(ckpts["a"]), "--client", TOY_FACTORY], tmp_path, capsys)
    assert "3x16x16" in err and "3x64x64" in err


def test_more_common_than_total_directions_is_refused(ckpts, tmp_path, capsys):
    err = _cli_error(["audit", "--reference", str(ckpts["a"]), "--client", str(ckpts["b"]), "--k", "4",
                      "--k-common", "6"], tmp_path, capsys)
    assert "--k-common 6" in err


def test_missing_reference_is_refused(tmp_path, capsys):
    err = _cli_error(["audit", "--client", "x.pt"], tmp_path, capsys)
    assert "--reference" in err


def test_oracle_without_the_excluded_attribute_is_refused(ckpts, tmp_path):
    import xaiprobe

    ref, client = make_pair(0)
    with pytest.raises(XaiprobeError, match=r"--missing Eyeglasses: the classifier has no attribute"):
        xaiprobe.audit(ref, client, run_dir=tmp_path, classifier=BlobOracle(), missing=["Eyeglasses"])
    # the exclusion recorded in a client checkpoint is checked the same way, before any work
    with pytest.raises(XaiprobeError, match=r"Eyeglasses.*recorded in ng.pt"):
        xaiprobe.audit(ckpts["a"], ckpts["noglasses"], run_dir=tmp_path, classifier=BlobOracle(),
                       features="random")
    assert not (tmp_path / "audit").exists()


def test_client_equal_to_reference_is_the_null_audit_with_a_warning(ckpts, caplog):
    from xaiprobe.audit import check_pair, load_generator

    a1, a2 = load_generator(ckpts["a"]), load_generator(str(ckpts["a"]), "client")
    with caplog.at_level(logging.WARNING):
        assert check_pair(a1, a2) is True
    assert "null audit" in caplog.text
    assert check_pair(a1, load_generator(ckpts["b"], "client")) is False
    assert load_generator(ckpts["noglasses"]).exclusions == ["Eyeglasses"]


def test_cli_runs_end_to_end_on_checkpoints(ckpts, tmp_path, capsys):
    from xaiprobe.editing import AttributeClassifier, save_classifier
    from xaiprobe.report import Section

    clf = tmp_path / "clf.pt"
    save_classifier(clf, AttributeClassifier(["Smiling", "Eyeglasses", "Male"], width=4).eval())
    argv = ["audit", "--reference", str(ckpts["a"]), "--client", str(ckpts["noglasses"]), "--null", str(ckpts["b"]),
            "--classifier", str(clf),
            "--features", "disc", "--k", "3", "--k-common", "1", "--iterations", "2", "--dre-samples", "16",
            "--dre-steps", "2", "--eval-samples", "4", "--strip-samples", "1", "--no-baselines", "--out",
            str(tmp_path / "run")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("missing: Eyeglasses")
    sec = Section.load(tmp_path / "run" / "audit")
    assert sec.numbers["k"] == 3 and "missing_mrr" in sec.numbers
    assert sec.numbers["null_unique"] == 8              # 4 unique directions in each of the two null audits
    assert "reference vs b.pt" in "".join(sec.findings)
    assert sec.command[0].startswith("xaiprobe audit --reference")
    assert (tmp_path / "run" / "audit" / "missing.png").is_file()

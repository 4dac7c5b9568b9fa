"""Shared tiny data and checkpoints for the membership-inference tests (built once per session)."""
import numpy as np
import pytest


@pytest.fixture(scope="session")
def faces():
    from xaiprobe.testing.data import tiny_faces

    return tiny_faces(80, seed=0)


@pytest.fixture(scope="session")
def tiny_ckpt(faces, tmp_path_factory):
    from xaiprobe.testing.models import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory.mktemp("mia") / "target.pt", faces, seed=0)


@pytest.fixture(scope="session")
def ref_ckpt(tmp_path_factory):
    """A reference trained on disjoint faces (another SynthFaces seed: other images)."""
    from xaiprobe.testing.data import tiny_faces
    from xaiprobe.testing.models import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory.mktemp("mia") / "reference.pt", tiny_faces(40, seed=1), seed=1)


@pytest.fixture(scope="session")
def no_members_ckpt(faces, tmp_path_factory):
    from xaiprobe.gan.checkpoint import save_checkpoint
    from xaiprobe.testing.models import tiny_config, tiny_dcgan

    G, D = tiny_dcgan(0)
    path = tmp_path_factory.mktemp("mia") / "nomembers.pt"
    return save_checkpoint(path, arch=tiny_config().to_dict(), generator=G.state_dict(), discriminator=D.state_dict(),
                           epoch=1, data={"spec": faces.spec, "split": "train"}, members=np.zeros(0, np.int64))

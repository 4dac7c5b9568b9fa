import numpy as np
import pytest
import torch
from PIL import Image

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.gan import sample_images, sample_latents, save_sample_grid
from xaiprobe.testing.models import tiny_dcgan


def test_sample_images_is_seeded_and_leaves_g_unchanged():
    G, _ = tiny_dcgan(0)
    G.train()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    z, x = sample_images(G, 10, seed=3, batch_size=4)
    assert z.shape == (10, 8) and x.shape == (10, 3, 64, 64)
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    z2, x2 = sample_images(G, 10, seed=3)
    assert torch.equal(z, z2) and torch.allclose(x, x2, atol=1e-6)
    assert not torch.equal(z, sample_images(G, 10, seed=4)[0])
    assert torch.equal(z, sample_latents(10, 8, seed=3))
    assert G.training and all(torch.equal(v, before[k]) for k, v in G.state_dict().items())


def test_sample_with_given_latents_and_errors():
    G, _ = tiny_dcgan(0)
    z = torch.randn(3, 8)
    out_z, x = sample_images(G, 3, z=z)
    assert torch.equal(out_z, z) and x.shape[0] == 3
    with pytest.raises(XaiprobeError):
        sample_images(G, 3, batch_size=0)


def test_save_sample_grid_png(tmp_path):
    G, _ = tiny_dcgan(0)
    p = save_sample_grid(G, tmp_path / "grid.png", n=16, seed=0, nrow=4)
    with Image.open(p) as im:
        assert im.format == "PNG" and im.size == (4 * 66 + 2, 4 * 66 + 2)
        assert np.asarray(im).std() > 0

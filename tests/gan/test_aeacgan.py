"""The AE-ACGAN networks: Keras parameter counts, shapes, heads, aliases, conditional sampling."""
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.activations.hooks import resolve_layer, run_with_cache
from xaiprobe.gan import AEACGANConfig, FixedLabelGenerator, build_aeacgan, count_parameters, sample_images
from xaiprobe.gan.aeacgan_train import AEACGANRecipe, aeacgan_train_step


def tiny(n_attributes=3, seed=0, **kw):
    return build_aeacgan(n_attributes, 8, width=0.125, seed=seed, **kw)


def test_keras_parameter_counts():
    # the Keras layer tables of the seed README: A = 40 labels, nz = 200, width 1
    m = build_aeacgan(40, 200)
    assert count_parameters(m.encoder) == 1_245_264
    assert count_parameters(m.generator) == 2_406_627
    assert count_parameters(m.discriminator) == 1_219_593
    # the last conv of G: an 8x8 kernel, 32 -> 3 channels (6,147 parameters)
    assert count_parameters(m.generator.main[10]) == 6_147
    assert not [x for x in m.modules() if "BatchNorm" in type(x).__name__]


def test_shapes_heads_and_ranges():
    m = tiny(3)
    x = torch.rand(5, 3, 64, 64) * 2 - 1
    labels, z = m.encoder(x)
    assert labels.shape == (5, 3) and z.shape == (5, 8)
    img = m.generator(z, torch.sigmoid(labels))
    assert img.shape == (5, 3, 64, 64) and img.abs().max() <= 1
    assert m.reconstruct(x).shape == (5, 3, 64, 64)
    D = m.discriminator.eval()
    logit, aux = D.forward_all(x)
    assert D(x).shape == (5,) and torch.equal(D(x), logit)  # like the DCGAN's D: one logit per image
    assert aux.shape == (5, 3) and torch.allclose(D.aux_logits(x), aux)


def test_generator_without_labels_uses_its_default_row():
    G = tiny(3).generator.eval()
    z = torch.randn(4, 8)
    G.default_labels.copy_(torch.tensor([1.0, 0.0, 1.0]))
    row = torch.tensor([1.0, 0.0, 1.0])
    assert torch.allclose(G(z), G(z, row.expand(4, 3)))
    assert torch.allclose(FixedLabelGenerator(G, [0, 1, 0])(z), G(z, torch.tensor([0.0, 1.0, 0.0])))
    assert "default_labels" in G.state_dict()
    with pytest.raises(XaiprobeError, match="label rows"):
        G(z, torch.zeros(4, 2))


def test_sample_images_takes_labels():
    G = tiny(3).generator
    _, a = sample_images(G, 4, seed=1, labels=[0, 0, 0])
    _, b = sample_images(G, 4, seed=1, labels=torch.ones(4, 3))
    _, c = sample_images(G, 4, seed=1, labels=[0, 0, 0])
    assert a.shape == (4, 3, 64, 64) and torch.equal(a, c) and not torch.allclose(a, b)
    with pytest.raises(XaiprobeError, match="labels"):
        sample_images(G, 4, labels=torch.ones(3, 3))
    from xaiprobe.testing.models import tiny_dcgan
    with pytest.raises(XaiprobeError, match="unconditional"):
        sample_images(tiny_dcgan(0)[0], 2, labels=[1])


def test_discriminator_aliases():
    D = tiny(3).discriminator.eval()
    for alias in ("conv1", "conv2", "conv3", "fc", "logit", "aux"):
        assert resolve_layer(D, alias)[0] == alias
    _, cache = run_with_cache(D, torch.zeros(2, 3, 64, 64), ["conv1", "conv2", "conv3", "fc", "logit", "aux"])
    shapes = {k: tuple(v.shape[1:]) for k, v in cache.items()}
    assert shapes == {"conv1": (4, 32, 32), "conv2": (8, 16, 16), "conv3": (16, 8, 8), "fc": (16,),
                      "logit": (1,), "aux": (3,)}
    # block outputs are after the LeakyReLU: negative values are scaled, not clipped
    assert isinstance(dict(D.named_modules())[D.aliases["conv2"]], torch.nn.LeakyReLU)


def test_build_is_seeded_and_validates():
    a, b, c = tiny(seed=3), tiny(seed=3), tiny(seed=4)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(a.discriminator.logit.weight, c.discriminator.logit.weight)
    with pytest.raises(XaiprobeError, match="attribute"):
        AEACGANConfig(n_attributes=0)
    with pytest.raises(XaiprobeError, match="unknown option"):
        build_aeacgan(3, ngf=4)


def _step(m, opts, x, y, recipe, seed):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(len(x), m.config.nz, generator=gen)
    return aeacgan_train_step(m.encoder, m.generator, m.discriminator, *opts, x, y, z,
                              y[torch.randperm(len(y), generator=gen)], recipe, gen)


def _opts(m, lr):
    return (torch.optim.Adam(m.generator.parameters(), lr=lr, betas=(0.5, 0.999)),
            torch.optim.Adam(m.discriminator.parameters(), lr=lr, betas=(0.5, 0.999)),
            torch.optim.Adam(list(m.encoder.parameters()) + list(m.generator.parameters()), lr=lr / 4,
                             betas=(0.5, 0.999)))


def _recon_error(autoencoder: bool, coloured, steps: int = 12) -> tuple[float, float]:
    torch.manual_seed(0)
    m = tiny(2, seed=0, dropout=0.0)
    rows = coloured.rows_of("train")[:16]
    x, y = coloured.images(rows), torch.as_tensor(coloured.labels[rows], dtype=torch.float32)
    with torch.no_grad():
        before = (m.reconstruct(x) - x).abs().mean().item()
    opts = _opts(m, 2e-3)
    stats = [_step(m, opts, x, y, AEACGANRecipe(autoencoder=autoencoder), s) for s in range(steps)]
    assert all(torch.isfinite(s[:2]).all() for s in stats)
    with torch.no_grad():
        return before, (m.reconstruct(x) - x).abs().mean().item()


def test_steps_reduce_the_reconstruction_loss(coloured):
    before, after = _recon_error(True, coloured)
    assert after < 0.6 * before
    # the auto-encoder step is what does it: without it the reconstructions stay worse
    assert after < _recon_error(False, coloured)[1] - 0.05


def test_aux_head_learns_a_planted_label(coloured):
    torch.manual_seed(0)
    m = tiny(2, seed=0, dropout=0.0)
    tr, te = coloured.rows_of("train"), coloured.rows_of(["val", "test"])
    x, y = coloured.images(tr), torch.as_tensor(coloured.labels[tr], dtype=torch.float32)
    opts = _opts(m, 2e-3)
    for s in range(25):
        b = torch.randperm(len(x), generator=torch.Generator().manual_seed(s))[:16]
        _step(m, opts, x[b], y[b], AEACGANRecipe(autoencoder=False, d_noise=0.05), s)
    with torch.no_grad():
        pred = m.discriminator.eval().aux_logits(coloured.images(te))[:, 0] > 0
    acc = (pred.numpy() == coloured.labels[te, 0].astype(bool)).mean()
    assert acc >= 0.85  # held-out images; chance is 0.5

import torch

from xaiprobe.activations.hooks import resolve_layer, run_with_cache
from xaiprobe.gan import DCGANConfig, Discriminator, Generator, build_dcgan, count_parameters
from xaiprobe.testing.models import tiny_config, tiny_dcgan


def test_default_parameter_counts():
    G, D = Generator(DCGANConfig()), Discriminator(DCGANConfig())
    assert count_parameters(G) == 3_806_080
    assert count_parameters(D) == 2_765_568


def test_shapes_and_ranges():
    G, D = tiny_dcgan(0)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 3, 64, 64)
    assert x.abs().max() <= 1
    assert D(x).shape == (5,)


def test_discriminator_aliases_resolve():
    _, D = tiny_dcgan(0)
    expected = {"conv1": "main.1", "conv2": "main.4", "conv3": "main.7", "conv4": "main.10", "conv5": "main.11"}
    modules = dict(D.named_modules())
    for alias, path in expected.items():
        name, p, m = resolve_layer(D, alias)
        assert (name, p) == (alias, path) and m is modules[path]
        assert resolve_layer(D, path)[0] == alias
    _, cache = run_with_cache(D.eval(), torch.zeros(2, 3, 64, 64), list(expected))
    shapes = {k: tuple(v.shape[1:]) for k, v in cache.items()}
    assert shapes["conv1"] == (4, 32, 32) and shapes["conv4"] == (32, 4, 4) and shapes["conv5"] == (1, 1, 1)


def test_build_is_seeded():
    a, b, c = tiny_dcgan(3), tiny_dcgan(3), tiny_dcgan(4)
    assert all(torch.equal(x, y) for x, y in zip(a[0].state_dict().values(), b[0].state_dict().values()))
    assert not torch.equal(a[1].main[0].weight, c[1].main[0].weight)
    assert tiny_config() == DCGANConfig(nz=8, ngf=4, ndf=4)
    G, _ = build_dcgan({"nz": 8, "ngf": 4, "ndf": 4})
    assert G.config.nz == 8

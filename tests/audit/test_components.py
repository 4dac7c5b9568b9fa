"""The audit's parts: contrastive loss, density ratios, metrics, chance, adapters."""
import numpy as np
import pytest
import torch

from xaiprobe.audit import (LatentDirections, build_feature_space, chance_mrr, classifier_features,
                            contrastive_loss, direction_classes, fit_density_ratio, greedy_selection, make_pool, mrr,
                            recorded_exclusions, reciprocal_rank, train_directions)
from xaiprobe.audit._density import null_threshold, ood_score
from xaiprobe.audit._generators import attribute_names_of

from .toy import NZ, BlobOracle, make_pair


@pytest.fixture(scope="module")
def toy_pools():
    ref, client = make_pair(0)
    space = build_feature_space("random")
    return ref, client, space, [make_pool(ref, space, 192, NZ, 1), make_pool(client, space, 192, NZ, 2)]


def test_contrastive_loss_falls_when_directions_train(toy_pools):
    ref, client, space, pools = toy_pools
    dirs = [LatentDirections(4, NZ, seed=0), LatentDirections(4, NZ, seed=1)]
    before = [d.bias.detach().clone() for d in dirs]
    hist = train_directions([ref, client], space, pools, dirs, direction_classes(4, 2), iterations=30,
                            batch_size=4, lr=0.05, seed=0)
    first, last = hist.drop(0.3)
    assert last < first - 0.15
    assert not torch.equal(before[0], dirs[0].bias)
    assert all(p.grad is None for p in ref.parameters())           # the generator is untouched


def test_contrastive_loss_prefers_aligned_changes():
    classes = direction_classes(2, 1)
    a = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])[:, None].repeat(1, 3, 1)     # (k=2, n=3, F=3)
    aligned, _ = contrastive_loss([a, a.clone()], classes)
    mixed, _ = contrastive_loss([a, a.flip(0)], classes)
    assert aligned < mixed
    single, acc = contrastive_loss([a], [torch.arange(2)], joint=True)
    assert acc == 1.0 and torch.isfinite(single)


def test_density_ratio_scores_the_other_gan_as_out_of_distribution(toy_pools):
    _, _, _, (pr, pc) = toy_pools
    model = fit_density_ratio(pr.features[:128], pc.features[:128], steps=100, seed=0)   # r ≈ p_ref / p_client
    with torch.no_grad():
        own = -model.log_ratio(pr.features[128:]).mean()
        other = -model.log_ratio(pc.features[128:]).mean()
    assert other > own + 1.0
    assert model.auc_ > 0.75
    assert not any(p.requires_grad for p in model.parameters())
    s, per = ood_score(model, pc.features[128:160], pr.features[128:160])
    assert s > 0 and per.shape == (32,)


def test_null_threshold_is_a_prediction_bound():
    rng = np.random.default_rng(0)
    null = rng.normal(size=16)
    t = null_threshold(null, n_tests=4)
    assert t > null.max() - 0.5 and t > null.mean() + 2 * null.std()
    fresh = rng.normal(size=(2000, 4))
    assert (fresh > t).any(axis=1).mean() < 0.1                    # about 5% of audits flag a null direction
    assert np.isnan(null_threshold([1.0, 2.0], 4))


def test_chance_mrr_is_exact():
    rng = np.random.default_rng(0)
    for u, A in ((1, 5), (2, 15), (4, 40)):
        ranks = rng.integers(1, A + 1, size=(40000, u))             # the target's rank under each direction
        sim = (1.0 / ranks.min(1)).mean()
        assert abs(chance_mrr(u, A) - sim) < 0.01
    assert chance_mrr(1, 5) == pytest.approx(np.mean(1 / np.arange(1, 6)))


def test_mrr_takes_the_best_direction_and_ties_rank_last():
    changes = np.array([[0.1, 2.0, 0.5], [3.0, 0.2, 0.1]])          # 2 directions, 3 attributes
    assert reciprocal_rank(changes[0], 1) == 1.0
    assert mrr(changes, [2]) == pytest.approx(0.5)
    assert mrr(changes, [0, 1]) == 1.0
    assert reciprocal_rank(np.zeros(4), 2) == 0.25                  # no change at all is no discovery


def test_greedy_selection_pairs_matching_changes():
    ref = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    client = np.array([[0, 0.9, 0.1], [0, 0, 1.0], [1.0, 0.1, 0]])
    pairs, ru, cu = greedy_selection(ref, client, 2)
    assert {(i, j) for i, j, _ in pairs} <= {(0, 2), (1, 0), (2, 1)} and len(pairs) == 2
    assert len(ru) == 1 and len(cu) == 1


def test_global_and_fixed_directions():
    d = LatentDirections(3, 5, model="global", seed=0)
    z = torch.randn(4, 5)
    e = d(z)
    assert e.shape == (3, 4, 5)
    assert torch.allclose((e - z[None]).norm(dim=2), torch.full((3, 4), 3.0), atol=1e-5)
    fixed = LatentDirections(2, 5, vectors=np.eye(5)[:2] * 7)
    assert not fixed.trainable and torch.allclose(fixed.edit(z, 1, 2.0) - z, torch.tensor([0, 2.0, 0, 0, 0]).expand(4, 5))


def test_classifier_features_use_features_or_the_last_layer_input():
    oracle = BlobOracle()
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    assert torch.allclose(classifier_features(oracle, x), oracle.features(x))

    class NoFeatures(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Conv2d(3, 4, 3)
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.body(x).mean(dim=(2, 3)))

    m = NoFeatures()
    f = classifier_features(m, x)
    assert torch.allclose(f, m.body(x).mean(dim=(2, 3)))
    assert not m.fc._forward_pre_hooks


def test_recorded_exclusions_are_read_where_present():
    assert recorded_exclusions({"data": {"spec": "synthfaces", "exclude": ["Eyeglasses"]}}) == ["Eyeglasses"]
    assert recorded_exclusions({"extra": {"exclude": "Male=1"}}) == ["Male=1"]
    assert recorded_exclusions({"data": {"spec": "synthfaces:8000:0:exclude=Eyeglasses"}}) == ["Eyeglasses"]
    assert recorded_exclusions({"data": {"spec": "synthfaces"}}) == []
    assert attribute_names_of(["Male=1", "Eyeglasses", "Male=0"]) == ["Male", "Eyeglasses"]


def test_aeacgan_generator_is_used_at_fixed_labels():
    aeacgan = pytest.importorskip("xaiprobe.gan.aeacgan")
    from xaiprobe.audit import load_generator

    G = aeacgan.Generator(aeacgan.AEACGANConfig(n_attributes=5, nz=8, width=0.125)).eval()
    g = load_generator(G, "client")
    assert g.nz == 8 and g.image_shape == (3, 64, 64)
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.allclose(g.module(z), G(z, G.default_labels.expand(2, -1)))


def test_selfsup_encoder_is_trained_once_then_loaded(tmp_path, monkeypatch):
    from xaiprobe.audit import selfsup_encoder, train_selfsup_encoder
    from xaiprobe.audit._selfsup import cache_path

    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path))
    opts = dict(data="synthfaces:40", steps=4, batch_size=8, width=4, seed=0)
    enc = selfsup_encoder(**opts)
    cached = cache_path(opts)
    assert cached.is_file() and len(enc.loss_history_) == 4
    again = selfsup_encoder(**opts)                                   # from the cache: same weights
    assert all(torch.equal(a, b) for a, b in zip(enc.state_dict().values(), again.state_dict().values()))
    out = train_selfsup_encoder(**{**opts, "steps": 2}, out=tmp_path / "enc.pt")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(selfsup_encoder(path=tmp_path / "enc.pt")(x), out(x))
    assert build_feature_space("selfsup", selfsup={"path": tmp_path / "enc.pt"})(x).shape == (2, out.dim)

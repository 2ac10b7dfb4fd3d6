"""LightGCN, NGCF and item2vec: hand-checked pieces, then learning on the clustered toy."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recengine import create_model, evaluate
from recengine.models.item2vec import basket_pairs, negative_distribution, pair_count
from recengine.models.lightgcn import GraphRecommender, LightGCNModule, normalized_adjacency
from recengine.models.ngcf import NGCFModule
from recengine.splits import temporal_leave_last_out

from .toys import clustered

# users 0, 1; items 0, 1, 2 (item 2 has no interactions)
TINY = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0]], dtype=np.float32))


def _dense_adjacency(matrix: sp.csr_matrix) -> np.ndarray:
    """D^-1/2 A D^-1/2 with dense numpy, the way the papers write it."""
    r = matrix.toarray().astype(np.float64)
    n_users, n_items = r.shape
    a = np.zeros((n_users + n_items,) * 2)
    a[:n_users, n_users:], a[n_users:, :n_users] = r, r.T
    degree = a.sum(axis=1)
    inverse = np.zeros_like(degree)
    inverse[degree > 0] = degree[degree > 0] ** -0.5
    return np.diag(inverse) @ a @ np.diag(inverse)


def test_normalized_adjacency_matches_the_hand_computed_matrix():
    adjacency = normalized_adjacency(TINY)
    assert adjacency.layout == torch.sparse_csr and adjacency.dtype == torch.float32
    # degrees: u0 2, u1 1, i0 2, i1 1, i2 0; entry (u, i) = 1 / sqrt(d_u d_i)
    h = 1 / np.sqrt(2)
    expected = np.array(
        [
            # u0   u1   i0   i1   i2
            [0.0, 0.0, 0.5, h, 0.0],
            [0.0, 0.0, h, 0.0, 0.0],
            [0.5, h, 0.0, 0.0, 0.0],
            [h, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],  # the untouched item: 0, not 1/sqrt(0)
        ]
    )
    np.testing.assert_allclose(adjacency.to_dense().numpy(), expected, rtol=1e-6)
    # repeated events count once
    repeated = sp.csr_matrix(([1.0, 1.0, 1.0, 1.0], ([0, 0, 0, 1], [0, 0, 1, 0])), shape=(2, 3))
    np.testing.assert_allclose(normalized_adjacency(repeated).to_dense().numpy(), expected)


def test_lightgcn_final_embedding_is_the_mean_of_the_layers_and_gradients_agree():
    matrix = clustered(n_users=6, n_items=8, per_user=3).matrix()
    adjacency = normalized_adjacency(matrix)
    torch.manual_seed(0)
    module = LightGCNModule(6, 8, factors=4, layers=3, init_std=0.1)
    users, items = module(adjacency)

    dense = torch.tensor(_dense_adjacency(matrix), dtype=torch.float32)
    e0 = torch.cat([module.user.weight, module.item.weight])
    layers = [e0, dense @ e0, dense @ dense @ e0, dense @ dense @ dense @ e0]
    expected = (layers[0] + layers[1] + layers[2] + layers[3]) / 4
    torch.testing.assert_close(torch.cat([users, items]), expected)

    # the hand-written backward (adjacency @ grad) equals autograd through dense products
    (users[:3] @ items.T).sum().backward()
    sparse_grad = module.user.weight.grad.clone(), module.item.weight.grad.clone()
    module.zero_grad()
    (expected[:3] @ expected[6:].T).sum().backward()
    torch.testing.assert_close(sparse_grad[0], module.user.weight.grad)
    torch.testing.assert_close(sparse_grad[1], module.item.weight.grad)


def test_ngcf_layers_follow_the_propagation_rule_and_are_concatenated():
    matrix = clustered(n_users=6, n_items=8, per_user=3).matrix()
    adjacency = normalized_adjacency(matrix)
    torch.manual_seed(0)
    module = NGCFModule(6, 8, factors=4, layers=2, node_dropout=0.5, message_dropout=0.5).eval()
    layers = module.layers(adjacency)
    assert [tuple(x.shape) for x in layers] == [(14, 4)] * 3
    users, items = module(adjacency)
    assert users.shape == (6, 12) and items.shape == (8, 12)

    # E1 = LeakyReLU(((L + I) E0) W1 + ((L E0) * E0) W2), by hand with dense L
    laplacian = torch.tensor(_dense_adjacency(matrix), dtype=torch.float32)
    e0 = torch.cat([module.user.weight, module.item.weight])
    w1, w2 = module.w1[0], module.w2[0]
    side = laplacian @ e0
    e1 = torch.nn.functional.leaky_relu(
        (side + e0) @ w1.weight.T + w1.bias + (side * e0) @ w2.weight.T + w2.bias, 0.2
    )
    torch.testing.assert_close(layers[1], e1)
    # final = [E0 | E1 / |E1| | E2 / |E2|]
    final = torch.cat([users, items])
    torch.testing.assert_close(final[:, :4], e0)
    torch.testing.assert_close(final[:, 4:8], e1 / e1.norm(dim=1, keepdim=True))
    torch.testing.assert_close(final[:, 8:].norm(dim=1), torch.ones(14))

    # dropout only while training
    torch.testing.assert_close(module(adjacency)[0], users)
    module.train()
    assert not torch.allclose(module(adjacency)[0], users)


def test_item2vec_pairs_of_a_basket():
    basket = [np.array([5, 7, 9])]
    targets, contexts = basket_pairs(basket, window=0)
    assert sorted(zip(targets.tolist(), contexts.tolist(), strict=True)) == [
        (5, 7),
        (5, 9),
        (7, 5),
        (7, 9),
        (9, 5),
        (9, 7),
    ]
    targets, contexts = basket_pairs(basket, window=1)  # neighbours in time order only
    assert sorted(zip(targets.tolist(), contexts.tolist(), strict=True)) == [
        (5, 7),
        (7, 5),
        (7, 9),
        (9, 7),
    ]
    # pairs never cross baskets; the counting formula agrees
    profiles = [
        np.array([1, 2, 3, 4]),
        np.array([], dtype=np.int64),
        np.array([8]),
        np.array([6, 0]),
    ]
    for window in (0, 1, 2, 5):
        targets, contexts = basket_pairs(profiles, window)
        assert len(targets) == pair_count([4, 0, 1, 2], window).sum()
        owner = {i: n for n, p in enumerate(profiles) for i in p.tolist()}
        assert all(owner[t] == owner[c] for t, c in zip(targets, contexts, strict=True))
    assert pair_count([4, 0, 1, 2], 0).tolist() == [12, 0, 0, 2]


def test_item2vec_negatives_follow_the_unigram_distribution_to_the_power_three_quarters():
    counts = np.array([16, 1, 0, 81])
    expected = np.array([8.0, 1.0, 0.0, 27.0]) / 36.0  # 16^0.75 = 8, 81^0.75 = 27
    np.testing.assert_allclose(negative_distribution(counts), expected)

    data = clustered(n_users=4, n_items=6, per_user=2)
    model = create_model("item2vec", epochs=0, negatives=50, factors=4)
    model.fit(data)  # no epochs: just the prepared sampler
    counts = data.item_popularity()
    model.noise_ = negative_distribution(counts)
    _, _, noise = model._with_negatives(np.zeros(2000, np.int64), np.zeros(2000, np.int64))
    assert noise.shape == (2000, 50)
    drawn = np.bincount(noise.ravel(), minlength=6) / noise.size
    np.testing.assert_allclose(drawn, model.noise_, atol=0.01)
    assert drawn[counts == 0].sum() == 0


LEARNERS = [
    ("lightgcn", {"epochs": 10, "batch_size": 128, "lr": 0.05, "factors": 16, "eval_every": 5}),
    (
        "ngcf",
        {
            "epochs": 10,
            "batch_size": 128,
            "lr": 0.02,
            "factors": 16,
            "node_dropout": 0.1,
            "eval_every": 5,
        },
    ),
    ("item2vec", {"epochs": 20, "batch_size": 256, "lr": 0.01, "factors": 16, "negatives": 5}),
    (
        "item2vec",
        {"epochs": 20, "batch_size": 256, "lr": 0.01, "factors": 16, "negatives": 5, "window": 2},
    ),
]


@pytest.mark.parametrize("name, params", LEARNERS)
def test_models_learn_the_groups_and_beat_random(name, params):
    split = temporal_leave_last_out(clustered())
    model = create_model(name, **params).fit(split.train, valid=split.valid)
    learned = evaluate(model, split.train, split.test, ks=(10,), metrics=("HR",))
    chance = evaluate(
        create_model("random").fit(split.train), split.train, split.test, ks=(10,), metrics=("HR",)
    )
    users = np.arange(split.train.n_users)
    top, _ = model.recommend(users, k=10)
    assert ((top // 20) == (users[:, None] % 2)).mean() >= 0.9
    assert learned.metrics["HR@10"] >= chance.metrics["HR@10"] + 0.2
    losses = [epoch["loss"] for epoch in model.history_]
    assert losses[-1] < losses[0]


def test_item2vec_serves_a_new_visitor_from_their_profile():
    data = clustered()
    model = create_model("item2vec", epochs=20, batch_size=256, lr=0.01, factors=16, negatives=5)
    model.fit(data)
    profiles = [np.array([0, 3, 7]), np.array([25, 31])]  # first half, second half
    top, _ = model.recommend_profiles(profiles, k=10, exclude=profiles)
    assert (top[0] < 20).all() and (top[1] >= 20).all()
    # cosine to the profile's mean vector, by hand
    vectors = model.item_vectors_
    mean = vectors[[0, 3, 7]].mean(axis=0)
    cosine = vectors @ mean / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(mean))
    np.testing.assert_allclose(model.score_profiles(profiles[:1])[0], cosine, rtol=1e-5)


def test_graph_models_cache_the_final_embeddings_of_the_restored_weights(monkeypatch):
    # keep the module and adjacency to compare against (normally dropped after training)
    monkeypatch.setattr(GraphRecommender, "_release_training_state", lambda self: None)
    split = temporal_leave_last_out(clustered())
    for name in ("lightgcn", "ngcf"):
        model = create_model(name, epochs=6, batch_size=128, lr=0.05, factors=8, eval_every=2)
        model.fit(split.train, valid=split.valid)
        with torch.no_grad():
            users, items = model.module_.eval()(model.adjacency_)
        np.testing.assert_allclose(model.user_vectors_, users.numpy(), rtol=1e-6)
        np.testing.assert_allclose(model.item_vectors_, items.numpy(), rtol=1e-6)
        np.testing.assert_allclose(
            model.score(np.arange(3)), users[:3].numpy() @ items.numpy().T, rtol=1e-5, atol=1e-6
        )

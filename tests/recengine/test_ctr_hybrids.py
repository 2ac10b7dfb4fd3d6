"""Wide & Deep, DeepFM, the two-stage pipeline and the hybrids: hand-checked properties,
what they learn on a toy gallery, and works listed after training."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recengine import Interactions, create_model, load_model
from recengine.models.composite import zscore
from recengine.models.twostage import NOT_CANDIDATE
from recengine.splits import cold_start_items_split

from .toys import gallery, own_style_share

# Columns deliberately interleaved across fields; work 0 has two style tags.
NAMES = ["artist=0", "style=abstract", "artist=1", "medium=oil", "style=red", "artist=2"]
WORKS = [
    ["artist=0", "style=abstract", "style=red", "medium=oil"],
    ["artist=0", "style=abstract"],
    ["artist=1", "style=red"],
    ["artist=2"],
    ["artist=1", "medium=oil"],
    [],
]
BOUGHT = {0: [0, 1], 1: [2], 2: [3, 4]}


def shop():
    rows = [(i, NAMES.index(name)) for i, names in enumerate(WORKS) for name in names]
    attributes = sp.csr_matrix(
        (np.ones(len(rows)), tuple(zip(*rows, strict=True))), shape=(len(WORKS), len(NAMES))
    )
    users = [u for u, items in BOUGHT.items() for _ in items]
    return Interactions(
        user_ids=["a", "b", "c"],
        item_ids=[f"w{i}" for i in range(len(WORKS))],
        users=users,
        items=[i for items in BOUGHT.values() for i in items],
        item_attributes=attributes,
        attribute_names=NAMES,
    )


SMALL = {"epochs": 0, "dim": 3, "hidden": [4]}
PAIRS = [(u, i) for u in BOUGHT for i in range(len(WORKS))]


def test_attribute_fields_become_mean_pooled_slots():
    model = create_model("deepfm", **SMALL).fit(shop())
    assert model.shape_["fields"] == ["artist", "style", "medium"]
    assert model.shape_["widths"] == [1, 2, 1]
    assert [NAMES[a] for a in model.slot_index_[0]] == [
        "artist=0",
        "style=abstract",
        "style=red",
        "medium=oil",
    ]
    np.testing.assert_allclose(model.slot_weight_[0], [1, 0.5, 0.5, 1])
    assert (model.slot_index_[5] == len(NAMES)).all() and not model.slot_weight_[5].any()
    assert model.item_rows_.tolist() == [0, 1, 2, 3, 4, 6]  # nobody bought w5: unknown row


def test_widedeep_wide_part_sees_collector_attribute_crosses():
    model = create_model("widedeep", **SMALL).fit(shop())
    users, items = np.array(PAIRS).T
    crosses = model.wide_crosses(users, items)
    for n, (user, item) in enumerate(PAIRS):
        for slot, column in enumerate(model.slot_index_[item]):
            if column == len(NAMES):
                assert crosses[n, slot] == 0
                continue
            # does the collector own another work with this attribute?
            others = [j for j in BOUGHT[user] if j != item]
            expected = any(NAMES[column] in WORKS[j] for j in others)
            assert crosses[n, slot] == expected, (user, item, NAMES[column])
    # w2's slots: artist=1, style=red, (empty style), (empty medium): a owns red, not artist 1
    assert crosses[PAIRS.index((0, 2))].tolist() == [0, 1, 0, 0]
    module = model.module_
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_()
        module.wide_attribute.weight[-1] = 0
        module.wide_cross.weight[-1] = 0
    u = torch.as_tensor(users)
    rows = torch.as_tensor(model.item_rows_[items])
    slots = torch.as_tensor(model.slot_index_[items])
    wide = module.wide(u, rows, slots, torch.as_tensor(crosses)).detach().numpy()
    weights = {k: v.detach().numpy().ravel() for k, v in module.state_dict().items()}
    for n, (user, item) in enumerate(PAIRS):
        expected = weights["wide_bias"][0] + weights["wide_user.weight"][user]
        expected += weights["wide_item.weight"][model.item_rows_[item]]
        for slot, column in enumerate(model.slot_index_[item]):
            if column < len(NAMES):
                expected += weights["wide_attribute.weight"][column]
                expected += weights["wide_cross.weight"][column] * crosses[n, slot]
        assert wide[n] == pytest.approx(expected, abs=1e-5)
    # the scores are wide + deep, and full scoring agrees with the pair path
    full = model.score(np.arange(3))
    np.testing.assert_allclose(
        model.score(users[:, None], items[:, None])[:, 0], full[users, items], rtol=1e-5
    )


def test_deepfm_fm_term_equals_the_pairwise_sum():
    model = create_model("deepfm", **SMALL).fit(shop())
    module = model.module_
    torch.manual_seed(1)
    with torch.no_grad():
        for table in (module.embeddings.user, module.embeddings.item, module.embeddings.attribute):
            table.weight.normal_()
        module.embeddings.attribute.weight[-1] = 0
    users, items = np.array(PAIRS).T
    fm = module.fm(
        torch.as_tensor(users),
        torch.as_tensor(model.item_rows_[items]),
        torch.as_tensor(model.slot_index_[items]),
        torch.as_tensor(model.slot_weight_[items]),
    ).detach()
    user_v = module.embeddings.user.weight.detach().numpy()
    item_v = module.embeddings.item.weight.detach().numpy()
    column_v = module.embeddings.attribute.weight.detach().numpy()
    for n, (user, item) in enumerate(PAIRS):
        features = [(1.0, user_v[user]), (1.0, item_v[model.item_rows_[item]])]
        for name in WORKS[item]:  # value 1 / tags of the same field
            field = name.partition("=")[0]
            same = sum(other.startswith(field + "=") for other in WORKS[item])
            features.append((1.0 / same, column_v[NAMES.index(name)]))
        expected = sum(
            x * y * float(v @ w) for (x, v), (y, w) in itertools.combinations(features, 2)
        )
        assert float(fm[n]) == pytest.approx(expected, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("name", ["widedeep", "deepfm"])
def test_ctr_models_learn_and_score_new_works_from_attributes_or_features(name, tmp_path):
    data = gallery()
    model = create_model(name, epochs=15, batch_size=32, lr=1e-2, dim=8, hidden=[16]).fit(data)
    assert own_style_share(model, np.arange(40)) >= 0.9
    pair = [0, 39]  # a red work, then a blue one
    model.add_items(["f-red", "f-blue"], features=data.item_features[pair])
    model.add_items(["a-red", "a-blue"], attributes=data.item_attributes[pair])
    model.add_items(
        ["both-red"], features=data.item_features[:1], attributes=data.item_attributes[:1]
    )
    assert (model.item_rows_[-5:] == 40).all()  # the unknown-work id row, kept at zero
    id_table = model.module_.embeddings.item.weight
    assert id_table.shape[0] == 41 and not id_table[40].any()
    scores = model.score(np.array([0, 1]))  # user 0 buys red, user 1 blue
    for first in (40, 42):  # by features alone, by attributes alone
        assert scores[0, first] > scores[0, first + 1], first
        assert scores[1, first + 1] > scores[1, first], first
    assert scores[0, 44] > max(scores[0, 41], scores[0, 43])  # red by both
    loaded = load_model(model.save(tmp_path / name))
    np.testing.assert_array_equal(loaded.score(np.array([0, 1])), scores)


def test_twostage_never_ranks_outside_the_generator_candidates():
    data = gallery()
    model = create_model(
        "twostage", candidates=5, ranker_params={"epochs": 10, "batch_size": 32, "factors": 8}
    ).fit(data)
    users = np.arange(40)
    generated = create_model("itemknn").fit(data).score(users)
    seen = data.matrix().toarray() > 0
    generated[seen] = -np.inf
    scores = model.score(users)
    ranker = model.models_["ranker"].score(users)
    top, _ = model.recommend(users, k=10)
    for user in users:
        allowed = set(np.argsort(-generated[user], kind="stable")[:5].tolist())
        assert set(top[user, :5].tolist()) == allowed
        outside = np.setdiff1d(np.arange(40), list(allowed))
        assert (scores[user, outside] == NOT_CANDIDATE).all()
        picked = sorted(allowed)
        np.testing.assert_allclose(scores[user, picked], ranker[user, picked], rtol=1e-5)
    assert own_style_share(model, users) >= 0.9


def latent_data(seed=0):
    """Validation works are each user's top 3 by a hidden taste the oracle knows."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 30, 40
    user_latent, item_latent = rng.normal(size=(n_users, 4)), rng.normal(size=(n_items, 4))
    order = np.argsort(-(user_latent @ item_latent.T), axis=1)
    train_items = np.stack([rng.choice(order[u, 10:], 3, replace=False) for u in range(n_users)])

    def part(items):
        return Interactions(
            user_ids=[f"u{u}" for u in range(n_users)],
            item_ids=[f"i{i}" for i in range(n_items)],
            users=np.repeat(np.arange(n_users), items.shape[1]),
            items=items.ravel(),
            item_features=rng.normal(size=(n_items, 3)),
            user_latent=user_latent,
            item_latent=item_latent,
        )

    return part(train_items), part(order[:, :3])


def test_weighted_hybrid_chooses_the_weight_on_validation():
    train, valid = latent_data()
    noisy_visual = create_model("hybrid_weighted", collaborative="oracle", visual="random")
    assert noisy_visual.fit(train, valid).weight_ == 1.0
    assert noisy_visual.weight_ndcg_["1.0"] == pytest.approx(1.0)
    noisy_collaborative = create_model("hybrid_weighted", collaborative="random", visual="oracle")
    assert noisy_collaborative.fit(train, valid).weight_ == 0.0
    fixed = create_model("hybrid_weighted", collaborative="oracle", visual="random", weight=0.3)
    assert fixed.fit(train).weight_ == 0.3
    users = np.arange(5)
    oracle, noise = (fixed.models_[p].score(users) for p in ("collaborative", "visual"))
    np.testing.assert_allclose(
        fixed.score(users), 0.3 * zscore(oracle) + 0.7 * zscore(noise), rtol=1e-5, atol=1e-6
    )


def test_switching_uses_visual_scores_exactly_for_cold_works(tmp_path):
    data = gallery()
    model = create_model(
        "hybrid_switching",
        min_interactions=6,
        collaborative_params={"epochs": 10, "batch_size": 32},
    ).fit(data)
    cold = data.item_popularity() < 6
    assert cold.any() and (~cold).any()
    np.testing.assert_array_equal(model.cold_items(), cold)
    users = np.arange(40)
    scores = model.score(users)
    visual = create_model("visrank").fit(data).score(users)[:, cold]
    by_hand = (visual - visual.mean(axis=1, keepdims=True)) / visual.std(axis=1, keepdims=True)
    np.testing.assert_allclose(scores[:, cold], by_hand, rtol=1e-4, atol=1e-5)
    collaborative = model.models_["collaborative"].score(users)
    np.testing.assert_allclose(scores[:, ~cold], zscore(collaborative, ~cold)[:, ~cold], atol=1e-5)
    assert own_style_share(model, users) >= 0.9
    # works listed later are cold: the visual part scores them, and they get recommended
    model.add_items(["new-red", "new-blue"], features=data.item_features[[0, 39]])
    top, _ = model.recommend(users, k=10)
    assert np.mean([(40 if u % 2 == 0 else 41) in top[u] for u in users]) >= 0.8
    assert not any((41 if u % 2 == 0 else 40) in top[u] for u in users)
    loaded = load_model(model.save(tmp_path / "switching"))
    assert loaded.models_["collaborative"].n_items == 40 and loaded.n_items == 42
    np.testing.assert_array_equal(loaded.score(users), model.score(users))


def test_weighted_hybrid_learns_and_takes_new_works_through_its_visual_part():
    data = gallery()
    model = create_model("hybrid_weighted", collaborative_params={"epochs": 10, "batch_size": 32})
    model.fit(data)
    assert own_style_share(model, np.arange(40)) >= 0.9
    model.add_items(["new-red", "new-blue"], features=data.item_features[[0, 39]])
    assert model.models_["visual"].n_items == 42 and model.models_["collaborative"].n_items == 40
    scores = model.score(np.array([0, 1]))
    assert scores[0, 40] > scores[0, 41] and scores[1, 41] > scores[1, 40]


def test_hybrid_init_starts_from_the_scaled_pca_of_the_features():
    data = gallery()
    model = create_model("hybrid_init", factors=4, epochs=0).fit(data)
    features = data.item_features.astype(np.float64)
    centred = features - features.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ directions[:4].T
    expected = projected * (0.1 / projected.std())
    start = model.module_.item.weight.detach().numpy()
    signs = np.sign((start * expected).sum(axis=0))  # a principal direction's sign is free
    np.testing.assert_allclose(start * signs, expected, rtol=1e-4, atol=1e-5)
    assert start.std() == pytest.approx(0.1, rel=1e-4)


def test_hybrid_init_learns_and_places_new_works_by_their_look():
    data = gallery()
    model = create_model("hybrid_init", factors=8, epochs=20, batch_size=32, lr=5e-3).fit(data)
    assert own_style_share(model, np.arange(40)) >= 0.9
    model.add_items(["new-red", "new-blue"], features=data.item_features[[0, 39]])
    new = model.module_.item.weight[-2:].detach().numpy()
    np.testing.assert_allclose(new, model.initial_factors(data.item_features[[0, 39]]))
    scores = model.score(np.arange(40))
    red_lovers = scores[0::2, 40] > scores[0::2, 41]
    blue_lovers = scores[1::2, 41] > scores[1::2, 40]
    assert red_lovers.mean() >= 0.8 and blue_lovers.mean() >= 0.8


def test_hybrid_init_scores_untouched_works_by_their_look():
    data = gallery()
    split = cold_start_items_split(data, share=0.25, seed=1)
    model = create_model("hybrid_init", factors=8, epochs=5, batch_size=32).fit(split.train)
    cold = split.train.item_popularity() == 0
    assert cold.any()
    factors = model.module_.item.weight.detach().numpy()
    np.testing.assert_allclose(factors[cold], model.initial_factors(data.item_features[cold]))
    assert not model.module_.item_bias.detach().numpy()[cold].any()

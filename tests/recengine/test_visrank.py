import numpy as np
import pytest

from recengine import Interactions, create_model

S = 1 / np.sqrt(2)  # cos between (1, 1) and an axis
# Four items: item3 = (3, 4) is deliberately unnormalised: cos to x-axis .6, to y-axis .8
FEATURES = np.array([[1, 0], [0, 1], [1, 1], [3, 4]], dtype=np.float32)


def _fitted(aggregation):
    data = Interactions(
        user_ids=["u0", "u1"],
        item_ids=["a", "b", "c", "d"],
        users=[0, 0, 1],
        items=[0, 1, 3],
        item_features=FEATURES,
    )
    return create_model("visrank", aggregation=aggregation).fit(data)


def test_visrank_max():
    model = _fitted("max")
    scores = model.score_profiles([[0, 1], [2], []])
    # profile {0, 1}: max over cosines -> item0 1, item1 1, item2 max(S, S), item3 max(.6, .8)
    np.testing.assert_allclose(scores[0], [1, 1, S, 0.8], rtol=1e-6)
    # profile {2}: cos((1,1), (3,4)) = 7 / (5 sqrt 2)
    np.testing.assert_allclose(scores[1], [S, S, 1, 7 / (5 * np.sqrt(2))], rtol=1e-6)
    np.testing.assert_array_equal(scores[2], 0)  # empty profile
    # training user 0 has exactly profile {0, 1}
    np.testing.assert_allclose(model.score(np.array([0])), scores[:1], rtol=1e-6)


def test_visrank_mean():
    model = _fitted("mean")
    scores = model.score_profiles([[0, 1], []])
    np.testing.assert_allclose(scores[0], [0.5, 0.5, S, 0.7], rtol=1e-6)
    np.testing.assert_array_equal(scores[1], 0)


def test_visrank_explanations():
    model = _fitted("max")
    explained = model.explain_profiles(
        [[0, 1], [3], []], np.array([[3, 0, -1], [0, 1, 2], [0, 1, 2]])
    )
    # item3 is closer to item1 (.8 > .6); item0 is explained by itself; -1 is padding
    assert explained.tolist() == [[1, 0, -1], [3, 3, 3], [-1, -1, -1]]


def test_visrank_recommend_profiles_with_exclusions():
    model = _fitted("max")
    items, scores = model.recommend_profiles([[0, 1]], k=3, exclude=[[0, 1]])
    assert items.tolist() == [[3, 2]]  # only two candidates left: fewer than k
    np.testing.assert_allclose(scores, [[0.8, S]], rtol=1e-6)
    unsold = np.array([True, True, True, False])
    items, scores = model.recommend_profiles(
        [[0, 1], [3]], k=3, exclude=[[0, 1], [3]], candidates_mask=unsold
    )
    assert items.tolist() == [[2, -1, -1], [2, 1, 0]]  # row 0 padded, scores -inf
    assert np.isneginf(scores[0, 1:]).all()


def test_visrank_requires_features():
    data = Interactions(user_ids=["u"], item_ids=["a"], users=[0], items=[0])
    with pytest.raises(ValueError, match="visrank needs item_features"):
        create_model("visrank").fit(data)
    with pytest.raises(ValueError, match="aggregation"):
        create_model("visrank", aggregation="median")


def test_visrank_mean_of_top_k():
    data = Interactions(
        user_ids=["u0"], item_ids=["a", "b", "c", "d"], users=[0], items=[0], item_features=FEATURES
    )
    model = create_model("visrank", aggregation="topk_mean", top_k=2).fit(data)
    scores = model.score_profiles([[0, 1, 2], [3]])
    # item3 vs profile {0, 1, 2}: cosines .6, .8, 7/(5 sqrt 2) = .99 -> top two .99 and .8
    np.testing.assert_allclose(scores[0, 3], (7 / (5 * np.sqrt(2)) + 0.8) / 2, rtol=1e-6)
    # item0 vs {0, 1, 2}: 1, 0, S -> (1 + S) / 2; a one-item profile uses that item alone
    np.testing.assert_allclose(scores[0, 0], (1 + S) / 2, rtol=1e-6)
    np.testing.assert_allclose(scores[1], [0.6, 0.8, 7 / (5 * np.sqrt(2)), 1], rtol=1e-6)
    with pytest.raises(ValueError, match="top_k"):
        create_model("visrank", top_k=0)


def test_visrank_scores_works_listed_after_training():
    model = _fitted("max")
    model.add_items(["e"], features=np.array([[0, 2]], dtype=np.float32))
    assert model.n_items == 5 and model.item_ids[-1] == "e"
    scores = model.score_profiles([[0, 1]])
    assert scores.shape == (1, 5) and scores[0, 4] == pytest.approx(1.0)  # same as b
    items, _ = model.recommend(np.array([1]), k=3)  # user1 had item3 = (3, 4)
    assert items.tolist() == [[2, 1, 4]]  # c (.99), then b and the new e tie at .8
    with pytest.raises(ValueError, match="already in the catalogue"):
        model.add_items(["a"], features=np.ones((1, 2)))
    with pytest.raises(NotImplementedError, match="cannot score works it was not trained on"):
        create_model("itemknn").fit(Interactions(["u"], ["a"], [0], [0])).add_items(["b"])


@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
@pytest.mark.parametrize("seed", range(5))
def test_scoring_only_the_candidates_ranks_as_scoring_every_work(aggregation, seed):
    """Few candidates (most works sold): only their similarities are computed, and the
    lists are the ones the whole product gives, exclusions and ties included."""
    rng = np.random.default_rng(seed)
    n_items = 300
    features = rng.normal(size=(n_items, 8)).astype(np.float32)
    features[50] = features[7]  # a tie, decided by the lower index on both paths
    data = Interactions(
        user_ids=[f"u{i}" for i in range(20)],
        item_ids=[f"i{i}" for i in range(n_items)],
        users=rng.integers(0, 20, 200),
        items=rng.integers(0, n_items, 200),
        item_features=features,
    )
    model = create_model("visrank", aggregation=aggregation).fit(data)
    profiles = [rng.choice(n_items, size=s, replace=False) for s in (1, 4, 9)] + [[]]
    exclude = [p[:2] for p in profiles[:3]] + [np.array([7, 299])]
    for share in (0.05, 0.3, 0.65):  # below COLUMNS_SHARE: the candidates' path
        mask = rng.random(n_items) < share
        mask[[7, 50]] = True
        fast = model.recommend_profiles(profiles, 10, exclude=exclude, candidates_mask=mask)
        model.scores_columns = False  # the whole product, then masked
        full = model.recommend_profiles(profiles, 10, exclude=exclude, candidates_mask=mask)
        del model.scores_columns
        np.testing.assert_array_equal(fast[0], full[0])
        np.testing.assert_allclose(fast[1], full[1], rtol=1e-6)
        assert mask[fast[0][fast[0] >= 0]].all()
        for row, excluded in enumerate(exclude):
            assert not np.isin(fast[0][row], excluded).any()
    # the candidates' path was taken, and the last candidates' rows are kept for the next
    np.testing.assert_array_equal(model._columns_kept[1], np.flatnonzero(mask))

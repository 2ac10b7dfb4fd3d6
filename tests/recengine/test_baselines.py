import numpy as np
import pytest
import scipy.sparse as sp

from recengine import Interactions, create_model


def _data(seed=0, n_users=25, n_items=12, density=0.3, ratings=False):
    rng = np.random.default_rng(seed)
    matrix = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(matrix)
    return Interactions(
        user_ids=[str(u) for u in range(n_users)],
        item_ids=[str(i) for i in range(n_items)],
        users=users,
        items=items,
        ratings=rng.integers(1, 6, len(users)).astype(float) if ratings else None,
    )


def test_ease_matches_the_closed_form_in_float64():
    data = _data()
    model = create_model("ease", l2=3.0).fit(data)
    x = data.matrix().toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 3.0 * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    np.testing.assert_allclose(model.weights, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.score(np.arange(3)), x[:3] @ b, rtol=1e-4, atol=1e-5)
    # a profile scores like a user who had those items
    profile = np.flatnonzero(x[0])
    np.testing.assert_allclose(model.score_profiles([profile])[0], x[0] @ b, rtol=1e-4, atol=1e-5)


def test_ease_refuses_before_allocating_when_memory_is_short():
    from recengine.models.ease import check_memory

    with pytest.raises(MemoryError, match=r"40,981 items .* only 1\.0 GB is available"):
        check_memory(40_981, available=2**30)
    check_memory(1000, available=2**30)  # 4 MB fits


def test_wmf_conjugate_gradient_converges_to_the_exact_solution():
    import torch

    from recengine.models.wmf import _conjugate_gradient_side

    data = _data(seed=1)
    matrix = data.matrix()
    rng = np.random.default_rng(0)
    y = torch.tensor(rng.normal(size=(data.n_items, 4)), dtype=torch.float64)
    x0 = torch.zeros(data.n_users, 4, dtype=torch.float64)
    alpha, reg = 5.0, 0.1
    solved = _conjugate_gradient_side(x0, y, matrix, alpha, reg, steps=30).numpy()
    dense = matrix.toarray()
    y_np = y.numpy()
    for user in range(data.n_users):
        confidence = 1 + alpha * dense[user]
        a = y_np.T @ (confidence[:, None] * y_np) + reg * np.eye(4)
        b = y_np.T @ (confidence * dense[user])
        np.testing.assert_allclose(solved[user], np.linalg.solve(a, b), rtol=1e-6, atol=1e-8)


def test_itemknn_shrunk_cosine_hand_computed():
    # items a, b, c; users: {a, b}, {a, b}, {a, c}
    data = Interactions(
        user_ids=["u", "v", "w"],
        item_ids=["a", "b", "c"],
        users=[0, 0, 1, 1, 2, 2],
        items=[0, 1, 0, 1, 0, 2],
    )
    model = create_model("itemknn", neighbours=5, shrink=1.0).fit(data)
    sim = model.similarity.toarray()
    # a.b = 2, |a| = sqrt(3), |b| = sqrt(2): 2 / (sqrt(6) + 1); a.c = 1: 1 / (sqrt(3) + 1)
    assert sim[0, 1] == pytest.approx(2 / (np.sqrt(6) + 1), rel=1e-6)
    assert sim[0, 2] == pytest.approx(1 / (np.sqrt(3) + 1), rel=1e-6)
    assert sim[1, 2] == 0 and np.diag(sim).tolist() == [0, 0, 0]
    # user w has a and c: score of b = sim(a, b) + sim(c, b)
    assert model.score([2])[0, 1] == pytest.approx(sim[0, 1] + sim[2, 1], rel=1e-6)
    # only the top neighbour of each target is kept with neighbours=1
    narrow = create_model("itemknn", neighbours=1, shrink=1.0).fit(data).similarity.toarray()
    assert (narrow > 0).sum(axis=0).tolist() == [1, 1, 1]


def test_userknn_scores_profiles_like_the_same_training_user():
    data = _data(seed=2)
    model = create_model("userknn", neighbours=5, shrink=0.0).fit(data)
    profile = np.flatnonzero(data.matrix().toarray()[4])
    by_profile = model.score_profiles([profile])[0]
    # the profile is also identical to user 4 (similarity 1), which the fitted graph lacks
    assert by_profile.shape == (data.n_items,) and np.isfinite(by_profile).all()
    assert (by_profile[profile] > 0).any()


def test_slim_weights_are_non_negative_with_zero_diagonal():
    data = _data(seed=3)
    model = create_model("slim", alpha=1e-3, l1_ratio=0.1, candidates=100).fit(data)
    weights = model.weights.toarray()
    assert (weights >= 0).all() and np.diag(weights).tolist() == [0] * data.n_items
    assert weights.sum() > 0
    # with fewer candidates each item may only use its nearest neighbours
    narrow = create_model("slim", alpha=1e-3, candidates=2).fit(data).weights
    assert (np.diff(sp.csc_matrix(narrow).indptr) <= 2).all()


def test_explicit_mf_fits_ratings():
    data = _data(seed=4, ratings=True)
    model = create_model("mf", factors=4, epochs=200, lr=0.02, reg=0.0, batch_size=64).fit(data)
    rating = data.rating_matrix().tocoo()
    predicted = model.score(rating.row)[np.arange(len(rating.row)), rating.col]
    baseline = np.abs(rating.data - rating.data.mean()).mean()
    assert np.abs(predicted - rating.data).mean() < 0.5 * baseline
    with pytest.raises(ValueError, match="mf needs ratings"):
        create_model("mf").fit(_data())


@pytest.mark.parametrize("n, block", [(300, 64), (257, 64), (100, 128), (130, 130)])
def test_blocked_inverse_matches_numpy(n, block):
    from recengine.models.ease import blocked_inverse, invert_in_place

    rng = np.random.default_rng(n)
    a = rng.random((n, n)).astype(np.float32)
    matrix = (a @ a.T / n + np.eye(n, dtype=np.float32)).astype(np.float32)
    expected = np.linalg.inv(matrix.astype(np.float64))
    np.testing.assert_allclose(blocked_inverse(matrix.copy(), block=block), expected, atol=1e-5)
    np.testing.assert_allclose(invert_in_place(matrix.copy()), expected, atol=1e-5)
    not_definite = -np.eye(n, dtype=np.float32)
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        blocked_inverse(not_definite.copy(), block=block)
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        invert_in_place(not_definite.copy())


def test_random_gives_every_single_profile_call_its_own_seeded_ranking():
    """The one-of-a-kind protocol, the new visitor and Compare each score one profile per
    call: a draw keyed by row position gave all of them the same ranking."""
    from recengine import Interactions, create_model

    data = Interactions(
        user_ids=["a", "b"], item_ids=[f"i{n}" for n in range(50)], users=[0, 1], items=[0, 1]
    )
    model = create_model("random", seed=3).fit(data)
    first, second = model.score_profiles([[0]]), model.score_profiles([[0]])
    assert not np.array_equal(np.argsort(first[0]), np.argsort(second[0]))
    # seeded: a fresh model makes the same sequence of calls give the same draws
    again = create_model("random", seed=3).fit(data)
    np.testing.assert_array_equal(again.score_profiles([[0]]), first)
    np.testing.assert_array_equal(again.score_profiles([[0]]), second)
    # training users keep one ranking each, whatever the batch
    np.testing.assert_array_equal(model.score(np.array([1])), model.score(np.array([0, 1]))[1:])

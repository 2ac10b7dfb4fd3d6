import numpy as np
import pytest

from recengine import (
    Interactions,
    create_model,
    list_models,
    load_model,
    model_info,
    register_model,
)
from recengine.models import Recommender


@pytest.fixture
def tiny(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    images = []
    for n in range(9):
        path = tmp_path / f"i{n}.png"
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
        images.append(str(path))
    n_users, n_items = 6, 9
    users = np.repeat(np.arange(n_users), 3)
    items = np.concatenate([rng.choice(n_items - 1, 3, replace=False) for _ in range(n_users)])
    # the last item nobody touched: cold start must still be scored
    return Interactions(
        user_ids=[f"u{n}" for n in range(n_users)],
        item_ids=[f"i{n}" for n in range(n_items)],
        users=users,
        items=items,
        timestamps=np.arange(len(users), dtype=float),
        ratings=rng.integers(1, 6, size=len(users)).astype(float),
        item_features=rng.random((n_items, 5)),
        user_latent=rng.normal(size=(n_users, 3)),
        item_latent=rng.normal(size=(n_items, 3)),
        item_images=images,
    )


def test_registry_lists_the_models():
    assert {"popularity", "visrank", "oracle", "random"} <= set(list_models())
    assert {"vbpr", "dvbpr", "curatornet", "ease", "slim", "wmf"} <= set(list_models())
    with pytest.raises(ValueError, match="available: .*popularity"):
        create_model("nope")
    info = model_info("visrank")
    assert info["defaults"] == {"aggregation": "max", "top_k": 3}
    assert info["needs"] == ("item_features",)
    assert model_info("oracle")["needs"] == ("user_latent", "item_latent")
    with pytest.raises(TypeError, match="bogus"):
        create_model("random", bogus=1)


@pytest.mark.parametrize("name", list_models())
def test_model_round_trip(name, tiny, tmp_path):
    model = create_model(name, **model_info(name)["smoke"])
    progress = []
    assert model.fit(tiny, callback=lambda f, m, **details: progress.append(f)) is model
    assert progress and progress[-1] == 1.0
    users = np.arange(tiny.n_users)
    scores = model.score(users)
    assert scores.shape == (tiny.n_users, tiny.n_items) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(model.score(users, np.array([1, 4])), scores[:, [1, 4]])
    # scoring is batch-independent (up to BLAS summation order)
    np.testing.assert_allclose(model.score(users[3:4]), scores[3:4], rtol=1e-5, atol=1e-7)
    # per-user candidates (the sampled protocol) agree with full scoring; -1 pads
    candidates = np.array([[2, 0, -1]] * tiny.n_users)
    picked = model.score(users, candidates)
    np.testing.assert_allclose(picked[:, :2], scores[:, [2, 0]], rtol=1e-5, atol=1e-6)
    assert np.isneginf(picked[:, 2]).all()

    items, top = model.recommend(users, k=4)
    assert items.shape == (tiny.n_users, 4) and top.dtype == np.float32
    seen = tiny.matrix().toarray() > 0
    assert not seen[users[:, None], items].any()
    assert (np.diff(top, axis=1) <= 0).all()
    all_items, _ = model.recommend(users, k=100)
    assert all_items.shape[1] == tiny.n_items - seen.sum(axis=1).min()

    path = model.save(tmp_path / name)
    assert (path / "config.json").exists() and (path / "weights.safetensors").exists()
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.hyperparameters == model.hyperparameters
    assert loaded.item_ids.tolist() == tiny.item_ids.tolist()
    np.testing.assert_array_equal(loaded.score(users), scores)
    np.testing.assert_array_equal(loaded.recommend(users, k=4)[0], items)

    profiles = [np.array([0, 2]), np.array([], dtype=np.int64)]
    try:
        expected = model.score_profiles(profiles)
    except NotImplementedError as error:
        assert name in str(error)
        return
    assert expected.shape == (2, tiny.n_items)
    np.testing.assert_array_equal(loaded.score_profiles(profiles), expected)
    picked, _ = loaded.recommend_profiles(profiles, k=3, exclude=profiles)
    assert not set(picked[0]) & {0, 2}


def test_popularity_counts_distinct_users():
    data = Interactions(
        user_ids=["a", "b", "c"],
        item_ids=["x", "y", "z"],
        users=[0, 0, 0, 1, 2],
        items=[1, 1, 1, 1, 2],  # user a liked y three times
    )
    model = create_model("popularity").fit(data)
    np.testing.assert_array_equal(model.score_profiles([[]])[0], [0, 2, 1])
    items, _ = model.recommend([2], k=3)
    assert items.tolist() == [[1, 0]]  # z is seen by c; x (0 users) still ranks after y


def test_oracle_is_latent_product(tiny):
    model = create_model("oracle").fit(tiny)
    np.testing.assert_allclose(
        model.score(np.array([1, 2])), tiny.user_latent[[1, 2]] @ tiny.item_latent.T, rtol=1e-5
    )
    data = Interactions(user_ids=["a"], item_ids=["x"], users=[0], items=[0])
    with pytest.raises(ValueError, match="oracle needs user_latent"):
        create_model("oracle").fit(data)


def test_random_depends_on_seed(tiny):
    a = create_model("random", seed=1).fit(tiny).score(np.arange(3))
    b = create_model("random", seed=1).fit(tiny).score(np.arange(3))
    c = create_model("random", seed=2).fit(tiny).score(np.arange(3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert ((a >= 0) & (a < 1)).all()


def test_register_custom_model():
    @register_model
    class Constant(Recommender):
        name = "test-constant"
        defaults = {"value": 1.0}
        description = "test only"

        def _fit(self, train, valid, callback):
            pass

        def _score_users(self, users):
            return np.full((len(users), self.n_items), self.hyperparameters["value"])

    try:
        assert "test-constant" in list_models()
        assert create_model("test-constant", value=2.0).hyperparameters == {"value": 2.0}
    finally:
        from recengine.models import registry

        registry._MODELS.pop("test-constant")

import numpy as np
import pytest

from recengine import create_model
from recengine.index import ItemIndex, dot_product_vectors

from .toys import gallery

DOT_MODELS = {
    "bpr": {"epochs": 2},
    "wmf": {"iterations": 2, "factors": 8},
    "oracle": {},
    "vbpr": {"epochs": 2},
    "curatornet": {"epochs": 2, "batch_size": 16},
    "visrank": {"aggregation": "mean"},
}


@pytest.fixture(scope="module")
def data():
    data = gallery()
    rng = np.random.default_rng(0)
    data.user_latent = rng.normal(size=(data.n_users, 3)).astype(np.float32)
    data.item_latent = rng.normal(size=(data.n_items, 3)).astype(np.float32)
    return data


@pytest.mark.parametrize("name", sorted(DOT_MODELS))
def test_index_serves_the_same_top_k_as_the_model(name, data):
    model = create_model(name, **DOT_MODELS[name]).fit(data)
    users, items = dot_product_vectors(model)
    profiles = model.seen_profiles(np.arange(5))
    if users is not None:
        queries, expected = users[:5], model.score(np.arange(5))
    else:
        queries, expected = model.profile_embeddings(profiles), model.score_profiles(profiles)
    np.testing.assert_allclose(queries @ items.T, expected, rtol=1e-4, atol=1e-4)
    index = ItemIndex.build(items, kind="flat")
    allowed = np.ones(data.n_items, dtype=bool)
    allowed[::3] = False
    found, scores = index.search(queries, k=5, allowed=allowed)
    assert allowed[found].all()
    masked = np.where(allowed, expected, -np.inf)
    np.testing.assert_allclose(scores, -np.sort(-masked, axis=1)[:, :5], rtol=1e-4, atol=1e-4)


def test_models_without_a_dot_product_form_say_so(data):
    assert dot_product_vectors(create_model("visrank").fit(data)) is None  # max: no
    assert create_model("itemknn").fit(data).embeddings() is None


def test_hnsw_index_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    items = rng.normal(size=(500, 16)).astype(np.float32)
    index = ItemIndex.build(items, kind="hnsw")
    index.save(tmp_path / "index.faiss")
    loaded = ItemIndex.load(tmp_path / "index.faiss")
    assert loaded.kind == "hnsw" and loaded.n_items == 500
    query = items[:3]
    found, _ = loaded.search(query, k=10)
    exact = np.argsort(-(query @ items.T), axis=1)[:, :10]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert overlap >= 0.9
    with pytest.raises(ValueError, match="index kind"):
        ItemIndex.build(items, kind="ivf")


def test_hnsw_searches_wider_in_larger_catalogues():
    from recengine.index import HNSW_EF_SEARCH, ef_search

    assert ef_search(200_000) == HNSW_EF_SEARCH
    assert ef_search(1_000_000) == 1_000 and ef_search(5_000_000) == 5_000

"""CuratorNet's sampling guidelines: each triplet meets its guideline's definition on a
hand-made log, the shares are counted and reported, and bad choices are refused."""

from collections import defaultdict

import numpy as np
import pytest

from recengine import Interactions, create_model, load_model
from recengine.guided_sampling import (
    FALLBACK,
    GUIDELINES,
    LABELS,
    REAL_USER_GUIDELINES,
    TripletSampler,
    item_artists,
    parse_guidelines,
    visual_clusters,
)

from .toys import gallery

CLUSTERS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
ARTISTS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
# (user, work, time, kind): u0 buys {0, 3} together, likes 6, buys 4, views 7; u1 buys 9,
# then {10, 8} together, then likes 2; u2 only views and likes (no basket); u3 buys once.
EVENTS = [
    (0, 0, 10.0, "purchase"),
    (0, 3, 10.0, "purchase"),
    (0, 6, 15.0, "like"),
    (0, 4, 20.0, "purchase"),
    (0, 7, 25.0, "view"),
    (1, 9, 5.0, "purchase"),
    (1, 10, 30.0, "purchase"),
    (1, 8, 30.0, "purchase"),
    (1, 2, 31.0, "like"),
    (2, 5, 40.0, "view"),
    (2, 6, 40.0, "like"),
    (3, 11, 50.0, "purchase"),
]


def toy_log(with_kinds: bool = True) -> Interactions:
    users, items, times, kinds = zip(*EVENTS, strict=True)
    return Interactions.from_records(
        [f"u{u}" for u in users],
        [str(i) for i in items],
        timestamps=times,
        all_user_ids=[f"u{u}" for u in range(4)],
        all_item_ids=[str(i) for i in range(12)],
        kinds=kinds if with_kinds else None,
    )


def toy_embedding() -> np.ndarray:
    """Each cluster a direction; works 10 and 11 are one image listed twice."""
    rng = np.random.default_rng(0)
    embedding = np.eye(4)[CLUSTERS] * 3 + rng.normal(0, 0.3, size=(12, 4))
    embedding[11] = embedding[10]
    return embedding


def sampler(guidelines=None, **kwargs) -> TripletSampler:
    data = kwargs.pop("data", None) or toy_log()
    defaults = dict(clusters=CLUSTERS, artists=ARTISTS, embedding=toy_embedding())
    return TripletSampler(data, "guided", guidelines=guidelines, **{**defaults, **kwargs})


def history(with_kinds: bool = True):
    """Computed here from EVENTS, independently of the sampler."""
    consumed, baskets = defaultdict(set), defaultdict(lambda: defaultdict(set))
    for user, item, when, kind in EVENTS:
        consumed[user].add(item)
        if kind == "purchase" or not with_kinds:
            baskets[user][when].add(item)
    return consumed, baskets


def before(user: int, when: float, inclusive: bool = False) -> set:
    return {i for u, i, t, _ in EVENTS if u == user and (t < when or (inclusive and t == when))}


def cold(user: int, negative: int, consumed) -> bool:
    """The paper's negative of guidelines 1-3: outside I+_u, in no cluster and by no
    artist the user likes."""
    mine = consumed[user]
    return (
        negative not in mine
        and CLUSTERS[negative] not in set(CLUSTERS[list(mine)])
        and ARTISTS[negative] not in set(ARTISTS[list(mine)])
    )


def rows(triplets, label: str):
    for t in np.flatnonzero(triplets.guideline == LABELS.index(label)):
        yield (
            int(triplets.users[t]),
            triplets.profile(t),
            triplets.positives[t],
            triplets.negatives[t],
        )


@pytest.mark.parametrize("guideline", GUIDELINES)
def test_each_guideline_meets_its_definition(guideline):
    triplets = sampler(guideline).sample(np.random.default_rng(0), 300)
    consumed, baskets = history()
    drawn = list(rows(triplets, guideline))
    assert len(drawn) >= 250, triplets.counts()  # the toy has cases for every guideline
    for user, profile, positive, negative in drawn:
        profile_set = set(profile.tolist())
        assert positive != negative and len(profile) == len(profile_set)
        if guideline == "missing_item":
            basket_time = next(t for t, b in baskets[user].items() if positive in b)
            assert len(baskets[user][basket_time]) >= 2
            assert profile_set == before(user, basket_time, inclusive=True) - {positive}
            assert cold(user, negative, consumed)
        elif guideline == "next_basket":
            basket_time = next(t for t, b in baskets[user].items() if positive in b)
            assert basket_time > min(baskets[user])  # not the user's first basket
            assert profile_set == before(user, basket_time) and positive not in profile_set
            assert cold(user, negative, consumed)
        elif guideline == "artist_cluster":
            mine = list(consumed[user])
            assert profile_set == consumed[user] and positive not in consumed[user]
            assert ARTISTS[positive] in ARTISTS[mine] and CLUSTERS[positive] in CLUSTERS[mine]
            assert cold(user, negative, consumed)
        elif guideline == "profile_items":
            assert profile_set == consumed[user]
            assert positive in consumed[user] and negative not in consumed[user]
        elif guideline == "fake_profile_item":
            assert user == -1 and profile.tolist() == [positive]
            assert {positive, negative} != {10, 11}  # one image twice is no lesson
        else:
            assert user == -1 and len(profile) == 1 and positive != profile[0]
            assert ARTISTS[positive] == ARTISTS[profile[0]] != ARTISTS[negative]
    if guideline in ("missing_item", "next_basket"):
        users = {u for u, *_ in drawn}
        assert users == {0, 1}  # u2 has views and likes only, u3 one purchase


def test_baskets_are_purchases_at_one_timestamp_or_every_event_without_kinds():
    draws = sampler().draws
    assert [sorted(b[0].tolist()) for b in draws.baskets[0]] == [[0, 3], [4]]
    assert [sorted(b[0].tolist()) for b in draws.baskets[1]] == [[9], [8, 10]]
    assert draws.baskets[2] == []  # a like is not a sale
    plain = sampler(data=toy_log(with_kinds=False)).draws
    assert [sorted(b[0].tolist()) for b in plain.baskets[2]] == [[5, 6]]
    assert [sorted(b[0].tolist()) for b in plain.baskets[1]] == [[9], [8, 10], [2]]
    # basket_seconds joins purchases that close: u1's 5 and 30 stay apart at 20 s
    joined = sampler(basket_seconds=20.0).draws
    assert [sorted(b[0].tolist()) for b in joined.baskets[0]] == [[0, 3, 4]]
    assert len(joined.baskets[1]) == 2


def test_hard_negatives_come_from_the_positives_cluster():
    hard = sampler("profile_items,fake_profile_item", hard_negatives=1.0)
    triplets = hard.sample(np.random.default_rng(3), 200)
    for name in ("profile_items", "fake_profile_item"):
        drawn = list(rows(triplets, name))
        assert drawn and all(CLUSTERS[p] == CLUSTERS[n] for _, _, p, n in drawn)
    easy = sampler("fake_profile_item", hard_negatives=0.0).sample(np.random.default_rng(3), 400)
    shared = np.mean(CLUSTERS[easy.positives] == CLUSTERS[easy.negatives])
    assert shared < 0.5  # a random cluster: one in four, or less


def test_single_work_artist_negatives_are_no_closer_than_the_positive():
    embedding = toy_embedding()
    embedding /= np.linalg.norm(embedding, axis=1, keepdims=True)
    triplets = sampler("fake_profile_artist").sample(np.random.default_rng(4), 200)
    for _, profile, positive, negative in rows(triplets, "fake_profile_artist"):
        query = profile[0]
        if CLUSTERS[query] == CLUSTERS[positive] != CLUSTERS[negative]:
            continue
        assert not (CLUSTERS[query] == CLUSTERS[negative] != CLUSTERS[positive])
        assert embedding[query] @ embedding[positive] > embedding[query] @ embedding[negative]


def test_shares_follow_the_paper_and_count_fallbacks():
    assert parse_guidelines(None) == {g: 1 / 6 for g in GUIDELINES}
    triplets = sampler().sample(np.random.default_rng(0), 600)
    counts = triplets.counts()
    assert sum(counts.values()) == 600
    assert all(counts.get(g, 0) >= 90 for g in GUIDELINES), counts
    # a catalogue without artists: artist guidelines find nothing and say so
    blind = sampler(artists=None).sample(np.random.default_rng(0), 600).counts()
    assert "artist_cluster" not in blind and "fake_profile_artist" not in blind
    assert blind[FALLBACK] >= 200 and sum(blind.values()) == 600


def test_a_guideline_switched_off_produces_nothing():
    triplets = sampler("next_basket, profile_items").sample(np.random.default_rng(0), 300)
    assert set(triplets.counts()) <= {"next_basket", "profile_items", FALLBACK}
    weighted = sampler({"missing_item": 3, "fake_profile_item": 1, "next_basket": 0})
    counts = weighted.sample(np.random.default_rng(0), 400).counts()
    assert counts.get("missing_item", 0) + counts.get(FALLBACK, 0) == 300
    assert counts["fake_profile_item"] == 100 and "next_basket" not in counts


def test_unknown_names_and_misplaced_choices_are_refused():
    with pytest.raises(ValueError, match="unknown guideline.*known: missing_item, next_basket"):
        parse_guidelines("next_basket,clever")
    with pytest.raises(ValueError, match="no guideline chosen"):
        parse_guidelines({"next_basket": 0})
    with pytest.raises(ValueError, match="sampling must be"):
        TripletSampler(toy_log(), "clever")
    with pytest.raises(ValueError, match="set sampling='guided'"):
        TripletSampler(toy_log(), "uniform", guidelines="next_basket")
    with pytest.raises(ValueError, match="unknown guideline"):
        create_model("curatornet", sampling="guided", guidelines="clever").fit(gallery())


def test_vbpr_keeps_to_real_users_and_refuses_an_artificial_profile():
    assert parse_guidelines(None, real_users_only=True) == {g: 0.25 for g in REAL_USER_GUIDELINES}
    with pytest.raises(ValueError, match="vbpr learns a vector per real user"):
        create_model("vbpr", sampling="guided", guidelines="next_basket,fake_profile_item").fit(
            gallery()
        )
    model = create_model("vbpr", sampling="guided", epochs=2, clusters=4).fit(gallery())
    assert set(model.sampling_shares_) == {*REAL_USER_GUIDELINES, FALLBACK}
    assert model.sampling_counts_["missing_item"] == 0  # the gallery sells one work a day


def test_same_seed_same_triplets():
    first = sampler().sample(np.random.default_rng(7), 200)
    again = sampler().sample(np.random.default_rng(7), 200)
    other = sampler().sample(np.random.default_rng(8), 200)
    for name in ("users", "positives", "negatives", "profile_ptr", "profile_items", "guideline"):
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert not np.array_equal(first.negatives, other.negatives)


def test_nothing_outside_the_training_catalogue():
    data = gallery()
    keep = np.ones(data.n_items, dtype=bool)
    keep[[5, 30]] = False
    train = data.select(~np.isin(data.items, [5, 30])).with_items(keep)
    clusters = visual_clusters(data.item_features, n_clusters=2, pca_dim=2, seed=0)
    with pytest.raises(ValueError, match="one per training work"):
        TripletSampler(train, "guided", clusters=clusters)  # the full catalogue's labels
    small = TripletSampler(
        train, "guided", clusters=clusters[keep], artists=item_artists(train)
    ).sample(np.random.default_rng(0), 500)
    every = np.concatenate([small.positives, small.negatives, small.profile_items])
    assert every.min() >= 0 and every.max() < train.n_items == 38
    seen = [set(p.tolist()) for p in train.profiles()]
    real = small.users >= 0
    pairs = zip(small.users[real], small.negatives[real], strict=True)
    assert not any(n in seen[u] for u, n in pairs)


def test_gallery_clusters_and_artists():
    data = gallery()
    clusters = visual_clusters(data.item_features, n_clusters=2, pca_dim=2, seed=0)
    assert len(set(clusters[:20])) == 1 and clusters[0] != clusters[39]  # the two styles
    assert item_artists(data).tolist() == (np.arange(40) // 5).tolist()


def test_curatornet_reports_and_saves_the_shares(tmp_path):
    details = []
    model = create_model("curatornet", sampling="guided", epochs=2, batch_size=32, clusters=4)
    model.fit(gallery(), callback=lambda f, m, **d: details.append(d))
    shares, counts = model.sampling_shares_, model.sampling_counts_
    assert set(shares) == {*GUIDELINES, FALLBACK}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert sum(counts.values()) == 2 * len(gallery())  # two epochs of len(train) triplets
    assert counts["missing_item"] == 0 and counts[FALLBACK] >= len(gallery()) // 3
    assert [sum(e["sampling"].values()) for e in model.history_] == [len(gallery())] * 2
    assert details[-1]["sampling_shares"] == shares
    loaded = load_model(model.save(tmp_path / "model"))
    assert loaded.sampling_shares_ == shares and loaded.sampling_counts_ == counts
    uniform = create_model("curatornet", epochs=1, batch_size=32).fit(gallery())
    assert uniform.sampling_shares_ == {"uniform": 1.0}

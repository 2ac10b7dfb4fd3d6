import numpy as np
import pytest

from recengine import Interactions, temporal_leave_last_out


def test_from_records_catalogue_and_cold_start():
    data = Interactions.from_records(
        ["u1", "u2", "u1"],
        ["b", "a", "b"],
        all_item_ids=["a", "b", "c"],
        item_features=np.eye(3),
    )
    assert (data.n_users, data.n_items, len(data)) == (2, 3, 3)
    assert data.items.tolist() == [1, 0, 1]
    assert data.item_features.dtype == np.float32 and data.item_features.shape == (3, 3)
    matrix = data.matrix()
    assert matrix.shape == (2, 3) and matrix.dtype == np.float32
    assert matrix.toarray().tolist() == [[0, 1, 0], [1, 0, 0]]  # duplicate collapsed to 1
    assert data.item_index(["c", "zz", "a"]).tolist() == [2, -1, 0]
    assert data.user_index(["u2"]).tolist() == [1]


def test_from_records_unknown_item_is_named():
    with pytest.raises(ValueError, match="'zz'"):
        Interactions.from_records(["u"], ["zz"], all_item_ids=["a"])


def test_profiles_time_order_and_dedup():
    data = Interactions.from_records(
        ["u", "u", "u", "v"],
        ["a", "b", "a", "c"],
        timestamps=[3.0, 1.0, 0.5, 1.0],
        all_item_ids=["a", "b", "c"],
        all_user_ids=["u", "v", "w"],
    )
    profiles = data.profiles()
    assert [p.tolist() for p in profiles] == [[0, 1], [2], []]  # a@0.5, b@1 (a@3 dropped)
    sub = data.select(data.users == 0)
    assert len(sub) == 3 and sub.n_items == 3 and sub.timestamps.tolist() == [3.0, 1.0, 0.5]


def test_temporal_leave_last_out():
    records = [
        # user a: sorted x(1) z(2) w(3) y(3); the tie at t=3 puts the larger id last
        ("a", "x", 1),
        ("a", "y", 3),
        ("a", "z", 2),
        ("a", "w", 3),
        ("b", "x", 5),
        ("b", "y", 1),  # sorted y, x -> test x, no valid
        ("c", "x", 1),  # single interaction stays in train
        ("d", "p", 1),
        ("d", "q", 2),
        ("d", "p", 3),  # like then buy p: earlier p leaves train
        ("e", "r", 1),
        ("e", "s", 2),
        ("e", "s", 3),  # valid row is the test item: dropped
    ]
    users, items, times = zip(*records, strict=True)
    data = Interactions.from_records(users, items, timestamps=times)
    split = temporal_leave_last_out(data)

    def rows(part):
        return sorted(
            (part.user_ids[u], part.item_ids[i])
            for u, i in zip(part.users, part.items, strict=True)
        )

    assert rows(split.test) == [("a", "y"), ("b", "x"), ("d", "p"), ("e", "s")]
    assert rows(split.valid) == [("a", "w"), ("d", "q")]
    assert rows(split.train) == [("a", "x"), ("a", "z"), ("b", "y"), ("c", "x"), ("e", "r")]
    for part in (split.train, split.valid, split.test):
        assert part.item_ids is not None and part.n_items == data.n_items
        assert part.n_users == data.n_users
    # no test (user, item) pair is in train
    train_pairs = set(zip(split.train.users, split.train.items, strict=True))
    assert not train_pairs & set(zip(split.test.users, split.test.items, strict=True))


def _events(part):
    """A part as a sorted list of (user id, item id, time): comparable across row orders."""
    return sorted(
        (part.user_ids[u], part.item_ids[i], t)
        for u, i, t in zip(part.users, part.items, part.timestamps, strict=True)
    )


def test_tied_last_events_hold_out_the_larger_item_id_whatever_the_row_order():
    rng = np.random.default_rng(4)
    # 40 users, 6 events each on a coarse clock (days 0-3): most users tie at their end
    users = np.repeat(np.arange(40), 6)
    items = np.concatenate([rng.choice(30, 6, replace=False) for _ in range(40)])
    times = rng.integers(0, 4, size=len(users)).astype(float)
    records = ([f"u{u}" for u in users], [str(i) for i in items], times)
    data = Interactions.from_records(*records, all_item_ids=[str(i) for i in range(30)])
    split = temporal_leave_last_out(data)
    ties = 0
    for user in range(40):
        mine = times[users == user]
        last = mine == mine.max()
        # integer ids compare as numbers: "12" is larger than "9"
        expected = int(items[users == user][last].max())
        held = split.test.items[split.test.users == data.user_index([f"u{user}"])[0]]
        assert held.tolist() == data.item_index([str(expected)]).tolist()
        ties += int(last.sum() > 1)
    assert ties >= 20  # the case is exercised, not incidental

    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(users))
        shuffled = Interactions.from_records(
            *(np.asarray(column, dtype=object)[order] for column in records),
            all_item_ids=[str(i) for i in range(30)],
            all_user_ids=list(data.user_ids),
        )
        again = temporal_leave_last_out(shuffled)
        for part in ("train", "valid", "test"):
            assert _events(getattr(again, part)) == _events(getattr(split, part))
        profiles = shuffled.profiles()
        assert all(
            np.array_equal(shuffled.item_ids[p], data.item_ids[q])
            for p, q in zip(profiles, data.profiles(), strict=True)
        )


def test_tied_ids_compare_as_numbers_only_when_every_id_is_a_plain_integer():
    def held_out(item_ids):
        data = Interactions.from_records(["u"] * 3, item_ids, timestamps=[0.0, 5.0, 5.0])
        test = temporal_leave_last_out(data).test
        return test.item_ids[test.items].tolist()

    assert held_out(["1", "10", "9"]) == ["10"]  # 10 > 9 as numbers
    assert held_out(["1", "9", "10"]) == ["10"]  # row order does not matter
    assert held_out(["a", "a10", "a9"]) == ["a9"]  # strings: "a9" > "a10"
    assert held_out(["1", "010", "9"]) == ["9"]  # "010" is not written plainly: strings


def _log(n_users=30, per_user=10, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    times = rng.random(len(users)) * 100
    return Interactions(
        user_ids=[f"u{n}" for n in range(n_users)],
        item_ids=[f"i{n}" for n in range(n_items)],
        users=users,
        items=items,
        timestamps=times,
    )


def _pairs(part):
    return set(zip(part.users.tolist(), part.items.tolist(), strict=True))


def test_random_ratio_split_is_per_user_seeded_and_disjoint():
    from recengine.splits import random_ratio_split

    data = _log()
    split = random_ratio_split(data, test_ratio=0.2, valid_ratio=0.1, seed=1)
    assert np.bincount(split.test.users, minlength=30).tolist() == [2] * 30
    assert np.bincount(split.valid.users, minlength=30).tolist() == [1] * 30
    assert len(split.train) + len(split.valid) + len(split.test) == len(data)
    assert not _pairs(split.train) & _pairs(split.test)
    again = random_ratio_split(data, test_ratio=0.2, valid_ratio=0.1, seed=1)
    other = random_ratio_split(data, test_ratio=0.2, valid_ratio=0.1, seed=2)
    assert _pairs(again.test) == _pairs(split.test) != _pairs(other.test)


def test_time_cut_split_and_drop_of_known_pairs():
    from recengine.splits import time_cut_split

    data = Interactions.from_records(
        ["a", "a", "b", "a", "b"], ["x", "y", "y", "x", "z"], timestamps=[1, 2, 3, 8, 9]
    )
    split = time_cut_split(data, test_after=8, valid_after=3)
    assert split.train.timestamps.tolist() == [1, 2]
    assert split.valid.timestamps.tolist() == [3]
    # a re-bought x at t=8: already in train, dropped; b's z at 9 stays
    assert split.test.timestamps.tolist() == [9]
    shares = time_cut_split(_log(), test_share=0.1, valid_share=0.1)
    assert 0.08 < len(shares.test) / 300 < 0.12 and shares.train.timestamps.max() < min(
        shares.test.timestamps.min(), shares.valid.timestamps.min()
    )


def test_cold_start_items_split_keeps_test_items_out_of_training():
    from recengine.splits import cold_start_items_split

    data = _log()
    split = cold_start_items_split(data, share=0.25, valid_share=0.1, seed=0)
    train_items, test_items = set(split.train.items), set(split.test.items)
    assert test_items and not train_items & test_items
    assert not set(split.valid.items) & (train_items | test_items)
    assert len(split.train) + len(split.valid) + len(split.test) == len(data)
    # by listing time: items first seen at or after t=90 are the new ones
    first = np.full(data.n_items, np.inf)
    np.minimum.at(first, data.items, data.timestamps)
    by_time = cold_start_items_split(data, after=90.0)
    assert set(by_time.test.items) == set(np.flatnonzero(first >= 90))


def test_cold_start_users_split_gives_a_fold_in_profile():
    from recengine.splits import cold_start_users_split

    data = _log()
    split = cold_start_users_split(data, share=0.2, profile_size=3, seed=0)
    test_users = set(split.test.users)
    assert len(test_users) == 6 and not test_users & set(split.train.users)
    assert set(split.fold_in.users) == test_users
    assert np.bincount(split.fold_in.users, minlength=30)[list(test_users)].tolist() == [3] * 6
    profiles = data.profiles()
    for user in test_users:  # the profile is the user's first three works in time
        assert sorted(split.fold_in.items[split.fold_in.users == user]) == sorted(
            profiles[user][:3]
        )

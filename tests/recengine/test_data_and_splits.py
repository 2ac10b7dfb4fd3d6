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
        # user a: sorted x(1) z(2) y(3) w(3); tie at t=3 keeps original order
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

    assert rows(split.test) == [("a", "w"), ("b", "x"), ("d", "p"), ("e", "s")]
    assert rows(split.valid) == [("a", "y"), ("d", "q")]
    assert rows(split.train) == [("a", "x"), ("a", "z"), ("b", "y"), ("c", "x"), ("e", "r")]
    for part in (split.train, split.valid, split.test):
        assert part.item_ids is not None and part.n_items == data.n_items
        assert part.n_users == data.n_users
    # no test (user, item) pair is in train
    train_pairs = set(zip(split.train.users, split.train.items, strict=True))
    assert not train_pairs & set(zip(split.test.users, split.test.items, strict=True))

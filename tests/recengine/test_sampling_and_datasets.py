from pathlib import Path

import numpy as np
import pytest

from recengine import Interactions
from recengine.datasets import DatasetError, load_benchmark
from recengine.sampling import Negatives, sample_negatives

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _write(path: Path, text: str) -> None:
    path.write_text(text.strip() + "\n")


def test_load_benchmark_shares_one_index(tmp_path):
    _write(tmp_path / "train.csv", "user_id,item_id,timestamp,rating\nu1,a,1,5\nu2,b,2,3\n")
    _write(tmp_path / "test.csv", "user_id,item_id\nu1,c\nu3,a\n")  # c and u3 only in test
    _write(tmp_path / "negatives.csv", "user_id,item_id\nu1,b\nu1,d\nu3,b\n")
    _write(tmp_path / "items.csv", "item_id,artist,style\na,Ann,blue|dark\ne,Bob,red\n")
    data = load_benchmark(tmp_path)
    assert data.train.user_ids.tolist() == ["u1", "u2", "u3"]
    assert data.train.item_ids.tolist() == ["a", "b", "c", "d", "e"]  # e: listed, never seen
    assert data.test.item_ids is not None and data.test.n_items == 5
    assert data.train.timestamps.tolist() == [1.0, 2.0] and data.train.ratings.tolist() == [5, 3]
    assert data.test.timestamps is None
    assert data.negatives.for_users(np.array([0, 2, 1])).tolist() == [[1, 3], [1, -1], [-1, -1]]
    attributes = data.train.item_attributes.toarray()
    names = data.train.attribute_names.tolist()
    assert names == ["artist=Ann", "artist=Bob", "style=blue", "style=dark", "style=red"]
    assert attributes[0].tolist() == [1, 0, 1, 1, 0] and attributes[4].tolist() == [0, 1, 0, 0, 1]
    assert attributes[1].sum() == 0


def test_bad_files_name_the_file_and_line(tmp_path):
    _write(tmp_path / "train.csv", "user_id,item_id,rating\nu1,a,5\nu2,b,lots\n")
    with pytest.raises(DatasetError, match=r"train.csv, line 3: rating 'lots'"):
        load_benchmark(tmp_path)
    _write(tmp_path / "train.csv", "user_id,item_id\nu1,a\nu2\n")
    with pytest.raises(DatasetError, match=r"train.csv, line 3: 1 fields"):
        load_benchmark(tmp_path)
    _write(tmp_path / "train.csv", "user,item_id\nu1,a\n")
    with pytest.raises(DatasetError, match="missing column"):
        load_benchmark(tmp_path)
    (tmp_path / "train.csv").unlink()
    with pytest.raises(DatasetError, match="neither train.csv nor interactions.csv"):
        load_benchmark(tmp_path)


@pytest.mark.skipif(not (SHARED / "citeulike-a").is_dir(), reason="../shared/data is absent")
def test_shared_citeulike_matches_its_readme():
    data = load_benchmark(SHARED / "citeulike-a")
    assert (data.train.n_users, data.train.n_items, len(data.train)) == (5551, 16980, 199435)
    assert len(data.test) == 5551 and data.negatives.items.shape == (5551, 100)


def _tiny() -> Interactions:
    return Interactions(
        user_ids=["u0", "u1"],
        item_ids=[f"i{n}" for n in range(10)],
        users=[0, 0, 0, 1],
        items=[0, 1, 2, 9],
    )


def test_sampled_negatives_are_unseen_distinct_and_seeded():
    data = _tiny()
    first = sample_negatives(np.array([0, 1]), 5, data, seed=3)
    again = sample_negatives(np.array([0, 1]), 5, data, seed=3)
    other = sample_negatives(np.array([0, 1]), 5, data, seed=4)
    np.testing.assert_array_equal(first.items, again.items)
    assert not np.array_equal(first.items, other.items)
    for row, seen in zip(first.items, ({0, 1, 2}, {9}), strict=True):
        assert len(set(row)) == 5 and not set(row) & seen
    # asking for more than remain gives every unseen item once, padded with -1
    full = sample_negatives(np.array([0]), 9, data, seed=0)
    assert sorted(full.items[0][:7]) == list(range(3, 10)) and full.items[0][7:].tolist() == [
        -1,
        -1,
    ]


def test_popularity_sampling_prefers_popular_items():
    data = _tiny()
    popularity = np.zeros(10)
    popularity[5] = 1000.0
    draws = sample_negatives(
        np.array([0] * 1), 1, data, strategy="popularity", popularity=popularity, seed=0
    )
    assert draws.items[0, 0] == 5
    with pytest.raises(ValueError, match="strategy"):
        sample_negatives(np.array([0]), 1, data, strategy="nope")


def test_negatives_from_pairs_keep_file_order():
    negatives = Negatives.from_pairs(np.array([2, 0, 2]), np.array([7, 4, 5]))
    assert negatives.users.tolist() == [0, 2]
    assert negatives.items.tolist() == [[4, -1], [7, 5]]

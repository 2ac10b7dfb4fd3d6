"""A benchmark dataset written to one file and read back (the gallery's route to the peer
benchmark, which must not import Django)."""

import numpy as np
import pytest

from recengine import Interactions
from recengine.datasets import BenchmarkData, DatasetError
from recengine.saved_data import load_benchmark_data, save_benchmark_data


def _data() -> BenchmarkData:
    rng = np.random.default_rng(0)
    events = Interactions(
        user_ids=["c1", "c2", "c3"],
        item_ids=["w1", "w2", "w3", "w4"],
        users=[0, 0, 1, 2, 2],
        items=[0, 1, 1, 2, 3],
        timestamps=[1.0, 2.0, 3.0, 4.0, 5.0],
        item_features=rng.normal(size=(4, 5)),
        user_latent=rng.normal(size=(3, 2)),
        item_latent=rng.normal(size=(4, 2)),
        kinds=[0, 1, 0, 1, 1],
        kind_names=["like", "purchase"],
        weights=[1.0, 2.0, 1.0, 2.0, 2.0],
    )
    return BenchmarkData(
        name="gallery (handcrafted)",
        train=None,
        valid=None,
        test=None,
        interactions=events,
        negatives=None,
        item_listed_at=np.array([0.0, 0.5, 1.0, 1.5]),
        item_sold_at=np.array([2.0, np.nan, 4.0, -np.inf]),
    )


def test_a_saved_dataset_reads_back_field_for_field(tmp_path):
    data = _data()
    path = save_benchmark_data(data, tmp_path / "sub" / "gallery.npz")
    assert [p.name for p in path.parent.iterdir()] == ["gallery.npz"]  # no partial file left
    back = load_benchmark_data(path)
    assert back.name == data.name and back.train is None and back.negatives is None
    ours, theirs = back.interactions, data.interactions
    for field in ("user_ids", "item_ids", "users", "items", "timestamps", "kinds", "weights"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(theirs, field))
    for field in ("item_features", "user_latent", "item_latent"):
        np.testing.assert_allclose(
            getattr(back.interactions, field), getattr(data.interactions, field)
        )
    assert list(back.interactions.kind_names) == ["like", "purchase"]
    assert back.interactions.ratings is None
    np.testing.assert_array_equal(back.item_listed_at, data.item_listed_at)
    np.testing.assert_array_equal(back.item_sold_at, data.item_sold_at)  # nan and -inf kept


def test_a_failed_save_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    path = save_benchmark_data(_data(), tmp_path / "gallery.npz")
    before = path.read_bytes()

    def broken(handle, **arrays):
        handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        save_benchmark_data(_data(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["gallery.npz"]


def test_reading_a_missing_or_foreign_file_names_it(tmp_path):
    with pytest.raises(DatasetError, match="nothing.npz: no such file"):
        load_benchmark_data(tmp_path / "nothing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, vectors=np.zeros(3))
    with pytest.raises(DatasetError, match=r"other.npz: not a saved dataset \(lacks name"):
        load_benchmark_data(other)
    text = tmp_path / "text.npz"
    text.write_text("user_id,item_id\n")
    with pytest.raises(DatasetError, match="text.npz: not a saved dataset"):
        load_benchmark_data(text)

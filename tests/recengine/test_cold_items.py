"""The cold-item split: held-out works do not exist for training, for every model.

Under the old split the held-out works stayed in the shared item index, so a model's ID
tables had rows for them and the samplers drew them as negatives (VBPR learned a negative
bias for every "cold" work). Here every fit the benchmark makes is watched: no held-out work
may be in the catalogue a model trains on, in any tensor of any training batch, and the
model must then score them through its cold path or say it cannot.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from recengine import Interactions, list_models, model_info
from recengine.bench import run_model
from recengine.bench_setup import prepare
from recengine.datasets import BenchmarkData
from recengine.models import Recommender
from recengine.models.gradient import Batches

from .toys import gallery


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cold")
    # 46 works, 9 held out: no tensor of a training batch may have the full catalogue's width
    data = gallery(folder, n_users=30, n_items=46)
    rng = np.random.default_rng(0)
    data = Interactions(
        user_ids=data.user_ids,
        item_ids=data.item_ids,
        users=data.users,
        items=data.items,
        timestamps=data.timestamps,
        ratings=rng.integers(1, 6, len(data)).astype(float),
        item_features=data.item_features,
        item_attributes=data.item_attributes,
        attribute_names=data.attribute_names,
        item_images=data.item_images,
        user_latent=rng.normal(size=(data.n_users, 3)),
        item_latent=rng.normal(size=(data.n_items, 3)),
    )
    assert all(Image.open(p).size == (16, 16) for p in data.item_images[:2])
    bench = BenchmarkData("toy", None, None, None, data, None)
    return prepare(
        bench, split="cold-items", protocol="full", sampled=None, negative_strategy="uniform",
        seed=0,
    )  # fmt: skip


@pytest.mark.parametrize("name", list_models())
def test_no_held_out_work_reaches_training(name, setup, monkeypatch):
    # the final fit learns from the validation works (they were held out to tune on)
    held_out = set(setup.train.item_ids[setup.test_items].tolist())
    assert len(held_out) == 9 and setup.valid_items.sum() > 0
    catalogues, batch_items = [], []
    original_fit = Recommender.fit

    def watched_fit(self, train, valid=None, callback=None):
        catalogues.append(set(train.item_ids.tolist()))
        return original_fit(self, train, valid=valid, callback=callback)

    original_iter = Batches.__iter__

    def watched_iter(self):
        for batch in original_iter(self):
            # a model that knew the whole catalogue would have a (.., 46) row somewhere
            batch_items.append([tuple(t.shape) for t in batch])
            assert all(46 not in t.shape for t in batch), [t.shape for t in batch]
            yield batch

    monkeypatch.setattr(Recommender, "fit", watched_fit)
    monkeypatch.setattr(Batches, "__iter__", watched_iter)
    torch.manual_seed(0)
    row, result = run_model(
        name, model_info(name)["smoke"], setup, ks=(5,), metrics=None, use_grid=False,
        select="NDCG@5", quiet=True,
    )  # fmt: skip
    assert catalogues, f"{name} was never fitted"
    for catalogue in catalogues:
        assert not catalogue & held_out
    if result is None:  # no cold path: the model says so
        assert (
            "cannot score works it was not trained on" in row["error"] or "needs" in row["error"]
        ), row["error"]
    else:
        assert row["cold_path"] and np.isfinite(row["metrics"]["NDCG@5"])

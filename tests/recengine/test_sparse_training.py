"""Sparse embedding updates: the row-wise optimiser against torch's, and the sparse path
against the dense one on the same data (recengine/optim.py)."""

import copy
import io

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recengine import create_model
from recengine.optim import RowOptimizer, make_optimizer
from recengine.triplets import UniformTriplets

from .toys import clustered


def _problem(seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=generator)
    y = torch.randn(64, 3, generator=generator)
    return x, y


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adagrad"])
@pytest.mark.parametrize("decay", [0.0, 0.05])
def test_dense_gradients_move_as_under_torch(name, decay):
    x, y = _problem()
    torch.manual_seed(1)
    ours, theirs = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    theirs.load_state_dict(ours.state_dict())
    optimisers = [
        RowOptimizer(ours.parameters(), algorithm=name, lr=0.03, weight_decay=decay),
        make_optimizer(name, theirs.parameters(), lr=0.03, weight_decay=decay),
    ]
    for _ in range(25):
        for module, optimiser in zip((ours, theirs), optimisers, strict=True):
            optimiser.zero_grad()
            (module(x) - y).pow(2).mean().backward()
            optimiser.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adagrad"])
def test_a_table_whose_rows_are_all_touched_matches_the_dense_update(name):
    # Duplicate lookups included: the sparse path must sum them before the update.
    lookups = torch.tensor([0, 3, 1, 3, 2, 0, 4, 4, 1, 2])
    target = torch.randn(len(lookups), 4, generator=torch.Generator().manual_seed(2))
    tables = []
    for sparse in (True, False):
        torch.manual_seed(3)
        table = torch.nn.Embedding(5, 4, sparse=sparse)
        optimiser = RowOptimizer(table.parameters(), algorithm=name, lr=0.05, weight_decay=0.01)
        for _ in range(30):
            optimiser.zero_grad()
            (table(lookups) - target).pow(2).sum().backward()
            optimiser.step()
        tables.append(table.weight.detach())
    torch.testing.assert_close(tables[0], tables[1], rtol=1e-5, atol=1e-6)


def test_untouched_rows_stay_put_until_touched():
    table = torch.nn.Embedding(6, 3, sparse=True)
    before = table.weight.detach().clone()
    optimiser = RowOptimizer(table.parameters(), algorithm="adam", lr=0.1)
    for _ in range(3):
        optimiser.zero_grad()
        table(torch.tensor([1, 4, 4])).sum().backward()
        optimiser.step()
    moved = (table.weight.detach() != before).any(dim=1)
    assert moved.tolist() == [False, True, False, False, True, False]
    state = optimiser.state[table.weight]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq", "last"}  # no scratch buffers


def _steps(table, optimiser, batches, dense_at=()):
    # A loss linear in the rows: its gradient does not depend on whether a row was caught
    # up before the forward pass, so lazy and dense updates can be compared exactly.
    direction = torch.tensor([1.0, -2.0, 0.5])
    for step, lookups in enumerate(batches):
        optimiser.zero_grad()
        loss = (table(torch.tensor(lookups)) * direction).sum()
        if step in dense_at:  # the weight read directly: this step's gradient is dense
            loss = loss + table.weight[:, 0].sum()
        loss.backward()
        optimiser.step()


def test_a_dense_step_on_a_sparse_table_first_catches_every_row_up():
    # SGD with L2 shrinks a skipped row exactly on catch-up, so a sparse table whose last
    # step is dense must end where a dense table does, rows it never touched included.
    batches = [[1, 4, 4], [2], [1, 4], [0, 2], [3]]
    tables = []
    for sparse in (True, False):
        torch.manual_seed(4)
        table = torch.nn.Embedding(6, 3, sparse=sparse)
        optimiser = RowOptimizer(table.parameters(), algorithm="sgd", lr=0.1, weight_decay=0.5)
        _steps(table, optimiser, batches, dense_at={2, 4})
        tables.append(table.weight.detach())
    torch.testing.assert_close(tables[0], tables[1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["adam", "adamw", "adagrad"])
def test_the_state_round_trips_through_a_checkpoint(name):
    # A resumed run (torch.load with weights_only, as the loop reads its checkpoint) and a
    # deep copy continue exactly as the uninterrupted run does.
    batches = [[1, 4, 4], [2, 5], [1], [0, 2, 2], [3, 1], [4]]

    def fresh():
        torch.manual_seed(5)
        table = torch.nn.Embedding(6, 3, sparse=True)
        return table, RowOptimizer(table.parameters(), algorithm=name, lr=0.05, weight_decay=0.01)

    straight, straight_opt = fresh()
    _steps(straight, straight_opt, batches)
    first, first_opt = fresh()
    _steps(first, first_opt, batches[:3])
    buffer = io.BytesIO()
    torch.save({"module": first.state_dict(), "optimizer": first_opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed, resumed_opt = fresh()
    resumed.load_state_dict(saved["module"])
    resumed_opt.load_state_dict(saved["optimizer"])
    _steps(resumed, resumed_opt, batches[3:])
    torch.testing.assert_close(resumed.weight, straight.weight, rtol=0, atol=0)
    copied = copy.deepcopy((first, first_opt))
    _steps(*copied, batches[3:])
    torch.testing.assert_close(copied[0].weight, straight.weight, rtol=0, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_lazy_adam_bpr_follows_the_dense_loss_curve(seed):
    # Small batches leave most rows untouched at each step, where lazy Adam neither decays
    # their moments nor moves them: close to dense Adam, not identical.
    train = clustered(n_users=40, n_items=30, per_user=6, seed=seed)
    curves = {}
    for sparse in (True, False):
        model = create_model(
            "bpr", factors=8, epochs=20, lr=0.05, sparse_updates=sparse, device="cpu", seed=seed
        )
        model.fit(train)
        curves[sparse] = np.array([record["loss"] for record in model.history_])
    lazy, dense = curves[True], curves[False]
    assert lazy[-1] < 0.5 * lazy[0] and dense[-1] < 0.5 * dense[0]  # both learn
    # Dense Adam's momentum moves every row in the first epochs; from then on the curves
    # agree (checked for seeds 0-9; the suite runs four).
    assert abs(lazy[-10:].mean() - dense[-10:].mean()) <= 0.15 * dense[-10:].mean()
    assert np.abs(lazy[5:] - dense[5:]).max() <= 0.06


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
def test_sgd_and_adagrad_are_exact_with_many_small_batches(optimizer):
    # Batches that leave most rows untouched: a zero gradient moves nothing in SGD or
    # Adagrad, so the lazy update is the dense one, step for step.
    train = clustered(n_users=40, n_items=30, per_user=6, seed=5)
    curves = {}
    for sparse in (True, False):
        model = create_model(
            "bpr",
            factors=8,
            epochs=6,
            batch_size=16,
            lr=0.05,
            reg=0.0,
            optimizer=optimizer,
            sparse_updates=sparse,
            device="cpu",
        )
        model.fit(train)
        curves[sparse] = np.array([record["loss"] for record in model.history_])
    np.testing.assert_allclose(curves[True], curves[False], rtol=1e-4, atol=1e-6)


def test_a_sparse_fit_gives_its_tables_sparse_gradients():
    model = create_model("bpr", factors=4, epochs=1, device="cpu")
    model.fit(clustered(n_users=10, n_items=8, per_user=3))
    assert model.module_.user.sparse and model.module_.item.sparse
    dense = create_model("bpr", factors=4, epochs=1, device="cpu", sparse_updates=False)
    dense.fit(clustered(n_users=10, n_items=8, per_user=3))
    assert not dense.module_.user.sparse


def test_an_epochs_negatives_are_never_seen_and_cover_every_pair_once():
    rng = np.random.default_rng(0)
    dense = rng.random((30, 50)) < 0.3
    triplets = UniformTriplets(sp.csr_matrix(dense))
    users, positives, negatives = triplets.epoch_arrays(np.random.default_rng(1))
    assert not dense[users, negatives].any()
    assert dense[users, positives].all()
    pairs = sorted(zip(users.tolist(), positives.tolist(), strict=True))
    assert pairs == sorted(zip(*np.nonzero(dense), strict=True))
    again = triplets.epoch_arrays(np.random.default_rng(1))
    assert all(
        np.array_equal(a, b) for a, b in zip((users, positives, negatives), again, strict=True)
    )

"""The sequential recommenders: GRU4Rec, Caser and SASRec."""

import math

import numpy as np
import pytest
import torch

from recengine import Interactions, create_model, model_info
from recengine.models.gru4rec import bpr_max_loss, session_parallel
from recengine.models.sasrec import SASRecModule
from recengine.models.sequences import pack, windows
from recengine.splits import temporal_leave_last_out

SEQUENTIAL = ("caser", "gru4rec", "sasrec")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The networks here are tiny: intra-op threads only add contention (tens of times
    slower on a busy two-core runner), so use one and restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sequences(sequences: list[list[int]], n_items: int) -> Interactions:
    """One user per sequence, timestamps in list order."""
    users = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
    return Interactions(
        user_ids=[f"u{n}" for n in range(len(sequences))],
        item_ids=[f"i{n}" for n in range(n_items)],
        users=users,
        items=np.concatenate(sequences),
        timestamps=np.arange(len(users), dtype=float),
    )


def _cycles(n_users: int = 120, seed: int = 0) -> Interactions:
    """Two cycles of ten items (0 -> 1 -> ... -> 9 -> 0 and 10 -> ... -> 19 -> 10); each
    user walks 5-8 steps along one of them from a random start."""
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(n_users):
        cycle, start, length = rng.integers(2), rng.integers(10), rng.integers(5, 9)
        sequences.append((10 * cycle + (start + np.arange(length)) % 10).tolist())
    return _sequences(sequences, 20)


def test_windows_pad_and_align():
    indptr, items = pack([np.array([4, 2, 7]), np.array([], dtype=np.int64), np.array([1])])
    right = windows(items, indptr[:-1], indptr[1:], 2)
    np.testing.assert_array_equal(right, [[3, 8], [0, 0], [0, 2]])  # item + 1, 0 pads
    left = windows(items, indptr[:-1], indptr[1:], 4, align="left")
    np.testing.assert_array_equal(left, [[5, 3, 8, 0], [0, 0, 0, 0], [2, 0, 0, 0]])


def test_session_parallel_resets_exactly_where_a_sequence_starts():
    # Sequences of 3, 2 and 4 items (2, 1 and 3 transitions) in two parallel rows: the
    # second sequence ends after step 0, so the third takes row 1 from step 1.
    indptr = np.array([0, 3, 5, 9])
    plan = session_parallel(indptr, np.array([0, 1, 2]), batch_size=2)
    steps = [
        (plan.slot[a:b].tolist(), plan.position[a:b].tolist(), plan.reset[a:b].tolist())
        for a, b in zip(plan.bounds[:-1], plan.bounds[1:], strict=True)
    ]
    assert steps == [
        ([0, 1], [0, 3], [True, True]),
        ([0, 1], [1, 5], [False, True]),
        ([1], [6], [False]),
        ([1], [7], [False]),
    ]


def test_gru4rec_carries_the_hidden_state_and_resets_it_between_sequences():
    lengths = [2, 5, 3, 6, 2, 4, 3]
    rng = np.random.default_rng(1)
    data = _sequences([rng.choice(12, n, replace=False).tolist() for n in lengths], 12)
    model = create_model("gru4rec", epochs=0, hidden=8, batch_size=3, n_sample=2).fit(data)
    model.rng_ = np.random.default_rng(0)
    model._prepare(data)  # the training-only state, as at the start of a fit
    module = model.module_.eval()
    runs: dict[int, list[int]] = {}
    resets = 0
    with torch.no_grad():
        for batch in model._batches(1):
            model._loss(module, batch)
            slots, inputs, _, reset, _ = batch
            for slot, item, starts in zip(
                slots.tolist(), inputs.tolist(), reset.tolist(), strict=True
            ):
                runs[slot] = [item] if starts else [*runs[slot], item]
                resets += int(starts)
                # the row's state is the GRU run over its own sequence so far, from zero
                expected = module.encode(torch.tensor([[i + 1 for i in runs[slot]]]))[0]
                torch.testing.assert_close(model.hidden_[-1, slot], expected)
    assert resets == len(lengths)


def test_bpr_max_matches_a_hand_computation():
    scores = torch.tensor([[2.0, 1.0, 0.0]])
    negatives = torch.tensor([[False, True, True]])
    loss = bpr_max_loss(scores, torch.tensor([0]), negatives, bpreg=0.5)
    s1, s2 = math.e / (math.e + 1), 1 / (math.e + 1)  # softmax of the negatives' scores
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = -math.log(s1 * sigmoid(2 - 1) + s2 * sigmoid(2 - 0)) + 0.5 * (s1 * 1**2 + s2 * 0)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_caser_reads_exactly_the_last_L_items():
    data = _sequences([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [3, 1, 4, 9, 2]], 10)
    model = create_model("caser", **{**model_info("caser")["smoke"], "L": 3}).fit(data)
    base = model.score_profiles([[0, 1, 2, 3, 4], [6, 2, 3, 4], [2, 3, 4]])
    # older items do not matter (up to float rounding: the rows are computed in one batch)
    np.testing.assert_allclose(base[1], base[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(base[2], base[0], rtol=1e-5, atol=1e-7)
    changed = model.score_profiles([[0, 1, 5, 3, 4]])  # the oldest of the last three
    assert not np.allclose(changed[0], base[0])


def test_caser_is_evaluated_with_the_user_embedding_it_trained():
    """score_histories (the benchmark's next-item path) reads a training user's history with
    that user's embedding P_u: the old path used score_profiles, with a zero user vector."""
    data = _sequences([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [3, 1, 4, 9, 2]], 10)
    model = create_model("caser", **{**model_info("caser")["smoke"], "L": 3}).fit(data)
    histories = [np.array([0, 1, 2, 3, 4]), np.array([5, 6, 7, 8, 9])]
    trained = model.score_histories(np.array([0, 1]), histories)
    # a training user's own sequence with their own embedding is exactly score(user)
    np.testing.assert_allclose(trained, model.score(np.array([0, 1])), rtol=1e-5, atol=1e-6)
    folded = model.score_histories(np.array([-1, -1]), histories)  # new visitors: fold-in
    np.testing.assert_allclose(folded, model.score_profiles(histories), rtol=1e-5, atol=1e-6)
    assert not np.allclose(trained, folded)


def test_sasrec_is_causal():
    torch.manual_seed(0)
    module = SASRecModule(n_items=10, max_len=6, hidden=8, blocks=2, heads=2, dropout=0.5).eval()
    window = torch.tensor([[0, 0, 3, 5, 1, 7]])
    later = torch.tensor([[0, 0, 3, 5, 9, 7]])  # position 4 changed
    with torch.no_grad():
        a, b = module(window), module(later)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_sequences_are_read_in_time_order(name):
    # Time order differs from index order, which is all seen_profiles keeps.
    data = _sequences([[5, 1, 3, 0], [2, 7, 4], [8, 6, 1, 2, 0]], 9)
    model = create_model(name, **model_info(name)["smoke"]).fit(data)
    np.testing.assert_array_equal(model.seq_items_, [5, 1, 3, 0, 2, 7, 4, 8, 6, 1, 2, 0])
    profile = np.array([4, 0, 7, 2])
    forward, backward = model.score_profiles([profile, profile[::-1]])
    assert not np.allclose(forward, backward)
    if name != "caser":  # Caser's profiles have no user embedding; the others agree
        np.testing.assert_allclose(
            model.score_profiles(data.profiles()), model.score(np.arange(3)), rtol=1e-5, atol=1e-6
        )


LEARN = {
    "gru4rec": {"epochs": 10, "hidden": 32, "batch_size": 16, "n_sample": 8, "lr": 0.1},
    "gru4rec-bpr-max": {
        "loss": "bpr_max", "epochs": 10, "hidden": 32, "batch_size": 16, "n_sample": 8, "lr": 0.1
    },
    "caser": {"epochs": 15, "dim": 16, "L": 3, "batch_size": 32, "dropout": 0.1, "lr": 0.01},
    "sasrec": {"epochs": 15, "hidden": 16, "max_len": 8, "batch_size": 16, "dropout": 0.1,
               "lr": 0.01},
}  # fmt: skip


def _hit_rate(scores: np.ndarray, seen: list[np.ndarray], truth: np.ndarray, k: int = 3) -> float:
    scores = scores.astype(float).copy()
    for row, items in enumerate(seen):
        scores[row, items] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == truth[:, None]).any(axis=1).mean())


@pytest.mark.parametrize("setting", sorted(LEARN))
def test_models_learn_a_next_item_pattern(setting):
    split = temporal_leave_last_out(_cycles())
    name = setting.split("-")[0]
    model = create_model(name, **LEARN[setting]).fit(split.train)
    chance = create_model("random").fit(split.train)
    users = np.arange(split.train.n_users)
    train = split.train.profiles()
    valid_item = np.full(len(users), -1)
    valid_item[split.valid.users] = split.valid.items
    test_item = np.full(len(users), -1)
    test_item[split.test.users] = split.test.items
    # a training user: the item after their training sequence (the validation item)
    scores = model.score(users)
    learned = _hit_rate(scores, train, valid_item)
    assert learned >= 0.8 and learned >= _hit_rate(chance.score(users), train, valid_item) + 0.5
    # Ranked first, too: an order-blind co-occurrence model cannot tell the item after a
    # walk from the one before it (item k-NN gets about 0.55 here).
    assert _hit_rate(scores, train, valid_item, k=1) >= 0.8
    # a given sequence (train + validation, as the benchmark passes at test time)
    longer = [np.append(seq, valid_item[u]) for u, seq in enumerate(train)]
    folded = _hit_rate(model.score_profiles(longer), longer, test_item)
    assert (
        folded >= 0.8
        and folded >= _hit_rate(chance.score_profiles(longer), longer, test_item) + 0.5
    )

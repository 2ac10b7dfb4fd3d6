"""Benchmark choices around the split: a final fit on train and validation when asked,
and published negatives (negatives.csv) under the leave-last-out split."""

import json

import numpy as np
import pytest

from recengine.__main__ import main
from recengine.models.popularity import Popularity

N_USERS, PER_USER, N_ITEMS = 16, 7, 40


def _log(rng):
    """Per user: PER_USER distinct items of their taste half, one a day (no ties)."""
    events = []
    for user in range(N_USERS):
        half = user % 2
        items = rng.choice(N_ITEMS // 2, PER_USER, replace=False) + half * (N_ITEMS // 2)
        events.append([(f"u{user}", f"i{item}", day) for day, item in enumerate(items)])
    return events


def _write(directory, name, header, rows):
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    (directory / f"{name}.csv").write_text("\n".join(lines) + "\n")


def _bench(directory, out, *extra):
    argv = ["bench", "--data", str(directory), "--quiet", "--out", str(out), *extra]
    assert main(argv) == 0
    return json.loads(out.read_text())


@pytest.fixture
def timed_dir(tmp_path):
    events = _log(np.random.default_rng(0))
    _write(tmp_path, "interactions", "user_id,item_id,timestamp", [e for u in events for e in u])
    return tmp_path, events


def test_refit_with_valid_trains_the_final_model_on_validation_too(timed_dir, tmp_path):
    directory, _ = timed_dir
    common = ["--split", "temporal-loo", "--models", "popularity,bpr"]
    common += ["--params", '{"bpr": {"epochs": 6, "batch_size": 16, "patience": 100}}']
    plain = _bench(directory, tmp_path / "plain.json", *common)
    refit = _bench(directory, tmp_path / "refit.json", *common, "--refit-with-valid")

    assert plain["refit_with_valid"] is False and plain["final_fit"] == "train"
    assert refit["refit_with_valid"] is True and refit["final_fit"] == "train + validation"
    # leave-last-out: one test and one validation event per user, the rest trains
    assert plain["train_interactions"] == refit["train_interactions"] == N_USERS * (PER_USER - 2)
    for report, extra in ((plain, 0), (refit, N_USERS)):
        rows = {row["model"]: row for row in report["models"]}
        for row in rows.values():
            assert row["final_fit_rows"] == report["train_interactions"] + extra
            assert row["test_users"] == N_USERS
    plain_bpr = {row["model"]: row for row in plain["models"]}["bpr"]
    refit_bpr = {row["model"]: row for row in refit["models"]}["bpr"]
    # without the flag the final fit early-stops on validation itself: no tuning fit
    assert "tuning" not in plain_bpr
    # with it, validation chooses the epoch count first; the refit runs exactly that many
    chosen = refit_bpr["tuning"]["tried"][0]["best_epoch"]
    assert refit_bpr["hyperparameters"]["epochs"] == chosen == refit_bpr["epochs_run"]


def test_published_negatives_serve_the_leave_last_out_split(timed_dir, tmp_path, monkeypatch):
    directory, events = timed_dir
    rng = np.random.default_rng(1)
    negatives, expected, dropped = [], {}, 0
    for user, rows in enumerate(events):
        mine = [item for _, item, _ in rows]
        # the last event is the test item, the one before the validation item
        train, valid, test = mine[:-2], mine[-2], mine[-1]
        others = [f"i{n}" for n in rng.permutation(N_ITEMS) if f"i{n}" not in mine][:6]
        # published for another split: two of the user's training items, their validation
        # and test items are among them; those four leave, the six others are used
        listed = [others[0], train[0], others[1], valid, others[2], test, train[3], *others[3:]]
        negatives += [(f"u{user}", item) for item in listed]
        expected[f"u{user}"] = {test, *others}
        dropped += 4
    _write(directory, "negatives", "user_id,item_id", negatives)

    ranked = {}
    score = Popularity.score

    def spy(self, users, items=None):
        if items is not None and np.ndim(items) == 2:  # the sampled protocol's candidates
            for user, row in zip(users, items, strict=True):
                ranked[self.user_ids[user]] = {self.item_ids[i] for i in row if i >= 0}
        return score(self, users, items)

    monkeypatch.setattr(Popularity, "score", spy)
    report = _bench(
        directory,
        tmp_path / "sampled.json",
        *("--split", "temporal-loo", "--protocol", "sampled", "--models", "popularity"),
    )
    assert report["split"] == "temporal-loo" and report["negatives"] == "negatives.csv"
    assert report["negatives_dropped"] == dropped
    row = report["models"][0]
    assert row["test_users"] == N_USERS and "AUC" in row["metrics"]
    assert ranked == expected  # exactly the published ones, less the users' own items

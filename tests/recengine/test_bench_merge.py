"""`python -m recengine merge`: runs on other features become one file whose models pair on
the same events; runs that ranked other events are refused."""

import json

import numpy as np
import pytest

from recengine.bench_merge import merge
from recengine.stats import paired_test

KEYS = np.array([["u1", "i1", 1.0], ["u2", "i2", 2.0], ["u3", "i3", 3.0]], dtype=object)


def _run(folder, name, model, values, **overrides):
    report = {
        "dataset": f"gallery ({name})",
        "snapshot": f"gallery@{name}",
        "split": "cold-items",
        "protocol": "full",
        "seed": 0,
        "users": 3,
        "items": 10,
        "train_interactions": 30,
        "test_interactions": 3,
        "models": [{"model": model, "metrics": {"NDCG@20": float(np.mean(values))}}],
        **overrides,
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(report))
    np.savez_compressed(
        folder / f"{name}-rows.npz",
        snapshot=np.array(report["snapshot"]),
        **{f"{model}/NDCG@20": np.asarray(values), f"{model}/keys": KEYS},
    )
    return str(path)


def test_merged_models_are_renamed_and_pair_on_the_same_events(tmp_path):
    a = _run(tmp_path, "hand", "visrank", [0.1, 0.2, 0.3])
    b = _run(tmp_path, "imagenet", "visrank", [0.2, 0.2, 0.5])
    out = tmp_path / "merged.json"
    report = merge(str(out), [(a, "hand"), (b, "imagenet")])
    assert [m["model"] for m in report["models"]] == ["visrank[hand]", "visrank[imagenet]"]
    assert (
        "hand: gallery@hand" in report["snapshot"]
        and "imagenet: gallery@imagenet" in (report["snapshot"])
    )
    rows = np.load(tmp_path / "merged-rows.npz", allow_pickle=True)
    test = paired_test(
        rows["visrank[imagenet]/keys"], rows["visrank[imagenet]/NDCG@20"],
        rows["visrank[hand]/keys"], rows["visrank[hand]/NDCG@20"], "NDCG@20",
    )  # fmt: skip
    assert test.n_pairs == 3 and test.mean_difference == pytest.approx(0.1)


def test_runs_that_ranked_other_events_are_refused(tmp_path):
    a = _run(tmp_path, "hand", "visrank", [0.1, 0.2, 0.3])
    b = _run(tmp_path, "other-seed", "visrank", [0.1, 0.2, 0.3], seed=1)
    with pytest.raises(ValueError, match="has seed 1, the first run 0: not the same events"):
        merge(str(tmp_path / "merged.json"), [(a, "hand"), (b, "other")])
    assert not (tmp_path / "merged.json").exists()

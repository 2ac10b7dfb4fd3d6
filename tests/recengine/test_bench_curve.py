"""bench_curve: legs through the checkpoint give the uninterrupted run's scores."""

import json

import numpy as np
import pytest

from recengine import create_model, evaluate
from recengine.bench_curve import main
from recengine.datasets import load_benchmark


def _write(folder, rows, name):
    lines = ["user_id,item_id"] + [f"{u},{i}" for u, i in rows]
    (folder / name).write_text("\n".join(lines) + "\n")


def test_the_curve_after_legs_matches_one_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(0)
    pairs = {(u, int(i)) for u in range(40) for i in rng.choice(30, 6, replace=False)}
    pairs = sorted(pairs)
    test = [p for n, p in enumerate(pairs) if n % 6 == 0]
    train = [p for n, p in enumerate(pairs) if n % 6]
    _write(tmp_path, train, "train.csv")
    _write(tmp_path, test, "test.csv")
    out = tmp_path / "curve.json"
    params = {"factors": 8, "lr": 0.01}
    main(
        [
            "--data",
            str(tmp_path),
            "--model",
            "bpr",
            "--params",
            json.dumps(params),
            "--epochs",
            "6",
            "--every",
            "3",
            "--k",
            "10",
            "--out",
            str(out),
        ]
    )
    report = json.loads(out.read_text())
    assert [point["epoch"] for point in report["curve"]] == [3, 6]
    assert len(report["epoch_seconds"]) == 6
    data = load_benchmark(tmp_path)
    straight = create_model("bpr", **params, epochs=6).fit(data.train)
    expected = evaluate(straight, data.train, data.test, ks=(10,), metrics=("Recall", "NDCG"))
    assert report["curve"][-1]["Recall@10"] == expected.metrics["Recall@10"]
    assert report["curve"][-1]["NDCG@10"] == expected.metrics["NDCG@10"]


@pytest.mark.parametrize(
    "model, params",
    [("wmf", {}), ("multvae", {"dims": [8, 4]}), ("neumf", {"factors": 4, "layers": [8, 4]})],
)
def test_models_whose_legs_would_not_be_one_run_are_refused(tmp_path, model, params, capsys):
    # No checkpoint (wmf), an annealing planned from the leg's epochs (multvae) or a
    # pretraining sized by the first leg (neumf): the curve would not be one run's.
    argv = ["--data", str(tmp_path), "--model", model, "--params", json.dumps(params)]
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "curve.json")])
    assert "would not be one run" in capsys.readouterr().err
    assert not (tmp_path / "curve.json").exists()

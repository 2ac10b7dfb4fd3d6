import json

import numpy as np
import pytest

from recengine import list_models
from recengine.__main__ import main


@pytest.fixture
def benchmark_dir(tmp_path):
    """Two taste groups; test.csv holds one more in-group item per user."""
    rng = np.random.default_rng(0)
    train, test, negatives = ["user_id,item_id"], ["user_id,item_id"], ["user_id,item_id"]
    for user in range(40):
        half = user % 2
        chosen = rng.choice(20, 7, replace=False) + 20 * half
        train += [f"u{user},i{item}" for item in chosen[:6]]
        test.append(f"u{user},i{chosen[6]}")
        others = rng.choice(20, 10, replace=False) + 20 * (1 - half)
        negatives += [f"u{user},i{item}" for item in others]
    for name, rows in (("train", train), ("test", test), ("negatives", negatives)):
        (tmp_path / f"{name}.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_bench_sampled_writes_the_documented_json(benchmark_dir, tmp_path, capsys):
    out = tmp_path / "results.json"
    code = main(
        [
            "bench",
            "--data",
            str(benchmark_dir),
            "--protocol",
            "sampled",
            "--models",
            "popularity,itemknn,bpr",
            "--k",
            "5,10",
            "--grid",
            "--quiet",
            "--params",
            '{"bpr": {"epochs": 5, "batch_size": 64}}',
            "--out",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert report["protocol"] == "sampled" and report["negatives"] == "negatives.csv"
    assert report["split"] == "given" and report["k"] == [5, 10]
    rows = {row["model"]: row for row in report["models"]}
    assert set(rows) == {"popularity", "itemknn", "bpr"}
    for row in rows.values():
        for key in (
            "AUC",
            "HR@10",
            "Recall@10",
            "Precision@10",
            "NDCG@5",
            "MRR",
            "MAP@10",
            "Coverage@10",
            "Novelty@10",
        ):
            assert 0 <= row["metrics"][key] or key == "Novelty@10", key
        assert row["fit_seconds"] >= 0 and row["eval_seconds"] > 0 and row["peak_memory_mb"] > 0
        assert row["test_users"] == 40
    # negatives come from the other group: anything that learned the groups wins easily
    assert rows["itemknn"]["metrics"]["HR@10"] > rows["popularity"]["metrics"]["HR@10"]
    tuning = rows["itemknn"]["tuning"]
    assert tuning["selected_by"] == "NDCG@5 on validation" and len(tuning["tried"]) == 9
    # bpr's epoch count came from the carved-out validation rows, then it was refitted
    chosen = max(rows["bpr"]["tuning"]["tried"], key=lambda tried: tried["NDCG@5"])
    assert rows["bpr"]["hyperparameters"]["epochs"] == chosen["best_epoch"]
    assert rows["bpr"]["hyperparameters"]["lr"] == chosen["hyperparameters"]["lr"]
    assert {t["b"] for t in report["paired_tests"]} == {"popularity", "itemknn", "bpr"} - {
        report["paired_tests"][0]["a"]
    }
    assert "Wilcoxon p=" in capsys.readouterr().out


def test_bench_full_ranking_and_errors(benchmark_dir, tmp_path, capsys):
    out = tmp_path / "full.json"
    assert (
        main(
            [
                "bench",
                "--data",
                str(benchmark_dir),
                "--models",
                "ease",
                "--k",
                "10",
                "--metrics",
                "Recall,NDCG,AUC",
                "--quiet",
                "--out",
                str(out),
                "--per-user",
                str(tmp_path / "users.npz"),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["protocol"] == "full"
    assert set(report["models"][0]["metrics"]) == {"AUC", "Recall@10", "NDCG@10"}
    per_user = np.load(tmp_path / "users.npz")
    assert per_user["ease/NDCG@10"].shape == (40,)
    assert main(["bench", "--data", str(benchmark_dir), "--models", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_models_command_lists_every_registered_model(capsys):
    assert main(["models"]) == 0
    printed = capsys.readouterr().out
    for name in list_models():
        assert f"\n{name}" in "\n" + printed


def test_bench_ease_reports_the_ratio_to_plain_inversions(benchmark_dir, tmp_path, capsys):
    out = tmp_path / "ease.json"
    assert main(["bench-ease", "--data", str(benchmark_dir), "--l2", "10", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["items"] == 40 and set(report["ratios"]) == {
        "numpy.linalg.inv",
        "scipy.linalg.inv",
        "torch.linalg.inv",
    }
    seconds = report["seconds"]
    expected = seconds["ease_fit"] / seconds[report["fastest_inversion"]]
    assert report["ratio_to_fastest_inversion"] == expected
    assert "EASE / inversion" in capsys.readouterr().out


def test_bench_reports_a_model_the_data_cannot_feed_and_goes_on(benchmark_dir, tmp_path):
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "bench",
                "--data",
                str(benchmark_dir),
                "--models",
                "mf,popularity",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = {r["model"]: r for r in json.loads(out.read_text())["models"]}
    assert rows["mf"]["error"] == "needs ratings, which this dataset does not have"
    assert "HR@10" in rows["popularity"]["metrics"]


def test_bench_visual_protocols_on_a_gallery_directory(tmp_path):
    """interactions.csv with time, items.csv with artists: profile-cut and one-of-a-kind."""
    rng = np.random.default_rng(0)
    rows = ["user_id,item_id,timestamp"]
    for user in range(30):
        for day, item in enumerate(rng.choice(20, 5, replace=False) + 20 * (user % 2)):
            rows.append(f"u{user},i{item},{day * 86400 * 3 + user}")
    (tmp_path / "interactions.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "items.csv").write_text(
        "item_id,artist\n" + "\n".join(f"i{i},a{i // 5}" for i in range(40)) + "\n"
    )
    for protocol, key in (("profile-cut", "NDCG@20"), ("one-of-a-kind", "AUC")):
        if protocol == "one-of-a-kind":  # one-of-a-kind works: each bought once
            order = rng.permutation(150)
            rows = ["user_id,item_id,timestamp"] + [
                f"u{n // 5},i{order[n]},{(n % 5) * 86400 * 3 + n}" for n in range(150)
            ]
            (tmp_path / "interactions.csv").write_text("\n".join(rows) + "\n")
            (tmp_path / "items.csv").write_text(
                "item_id,artist\n" + "\n".join(f"i{i},a{i // 5}" for i in range(160)) + "\n"
            )
        out = tmp_path / f"{protocol}.json"
        assert (
            main(
                [
                    "bench",
                    "--data",
                    str(tmp_path),
                    "--protocol",
                    protocol,
                    "--k",
                    "20",
                    "--models",
                    "itemknn,popularity",
                    "--quiet",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        report = json.loads(out.read_text())
        rows_by_model = {r["model"]: r for r in report["models"]}
        assert (
            report["split"]
            == {"profile-cut": "temporal-loo", "one-of-a-kind": "purchase-time"}[protocol]
        )
        assert rows_by_model["itemknn"]["profile"]
        # the best is chosen, and the tests run, on the named metric (NDCG@20 by default)
        assert report["paired_tests"][0]["metric"] == "NDCG@20"
        assert report["paired_tests"][0]["unit"] == "events"
        if protocol == "profile-cut":
            metrics = {name: row["metrics"][key] for name, row in rows_by_model.items()}
            assert metrics["itemknn"] > metrics["popularity"]
        else:  # works sold earlier leave the candidates: fewer than the 160 works
            diagnostics = rows_by_model["itemknn"]["diagnostics"]
            assert 1 < diagnostics["mean_candidates"] < 160
            # the last fifth of the 150 purchases: every collector's fifth, after four
            assert diagnostics["ranked_events"] == 30 and diagnostics["skipped_no_profile"] == 0
            assert 0 <= rows_by_model["itemknn"]["metrics"]["AUC"] <= 1


def test_bench_extract_reports_the_pipeline_against_the_bare_model(tmp_path, capsys):
    out = tmp_path / "extract.json"
    assert (
        main(
            [
                "bench-extract",
                "--backbone",
                "test_resnet",
                "--images",
                "8",
                "--batch-size",
                "4",
                "--image-size",
                "32",
                "--workers",
                "0",
                "--repeat",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    rates = report["images_per_second"]
    assert report["ratio"] == rates["pipeline"] / rates["bare"] and rates["bare"] > 0
    assert report["weights"] == "random init" and report["image_size"] == 32
    assert "ratio" in capsys.readouterr().out


def test_one_model_in_two_named_settings(benchmark_dir, tmp_path):
    out = tmp_path / "aliases.json"
    params = '{"itemknn@narrow": {"neighbours": 2}, "itemknn@wide": {"neighbours": 30}}'
    assert (
        main(
            [
                "bench",
                "--data",
                str(benchmark_dir),
                "--models",
                "itemknn@narrow,itemknn@wide",
                "--params",
                params,
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = {r["model"]: r for r in json.loads(out.read_text())["models"]}
    assert rows["itemknn@narrow"]["hyperparameters"]["neighbours"] == 2
    assert rows["itemknn@wide"]["hyperparameters"]["neighbours"] == 30


def test_bench_serving_reports_latency_percentiles(tmp_path, capsys):
    out = tmp_path / "serving.json"
    assert main(["bench-serving", "--sizes", "2000", "--queries", "50", "--out", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["items"] == 2000 and row["index"] == "flat"
    assert 0 < row["p50_ms"] <= row["p99_ms"] and row["recall_at_k_vs_exact"] == 1.0
    assert "p99" in capsys.readouterr().out


def test_sequential_models_read_train_and_validation_at_test_time(tmp_path, monkeypatch):
    """Leave-last-out next-item protocol: the profile scored for the test item is the
    user's whole history, validation item included, in time order."""
    from recengine.models import gru4rec

    rows = ["user_id,item_id,timestamp"]
    for user in range(12):
        for step in range(6):
            rows.append(f"u{user},i{(user + step) % 8},{step}")
    (tmp_path / "interactions.csv").write_text("\n".join(rows) + "\n")
    seen = []
    original = gru4rec.GRU4Rec._score_histories

    def spy(self, users, profiles):
        assert (users >= 0).all()  # training users, read with their own parameters
        seen.extend(len(p) for p in profiles)
        return original(self, users, profiles)

    monkeypatch.setattr(gru4rec.GRU4Rec, "_score_histories", spy)
    out = tmp_path / "seq.json"
    assert (
        main(
            [
                "bench",
                "--data",
                str(tmp_path),
                "--protocol",
                "sampled",
                "--sampled",
                "5",
                "--models",
                "gru4rec",
                "--params",
                '{"gru4rec": {"epochs": 2}}',
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["split"] == "temporal-loo" and report["models"][0]["test_users"] == 12
    assert seen and set(seen) == {5}  # six events: train four + the validation one


def test_no_validation_fits_once_with_the_given_epochs(benchmark_dir, tmp_path):
    out = tmp_path / "once.json"
    assert (
        main(
            [
                "bench",
                "--data",
                str(benchmark_dir),
                "--models",
                "bpr",
                "--no-validation",
                "--params",
                '{"bpr": {"epochs": 3}}',
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    row = json.loads(out.read_text())["models"][0]
    assert "tuning" not in row and row["epochs_run"] == 3 and row["best_epoch"] == 3

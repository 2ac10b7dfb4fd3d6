"""`python -m recengine report`: benchmark JSON as the Markdown tables of docs/benchmarks.md."""

from recengine.report import markdown


def _row(model, ndcg, **extra):
    return {
        "model": model,
        "hyperparameters": {"factors": 8, "device": "auto", "seed": 0},
        "metrics": {"NDCG@10": ndcg, "HR@10": 0.5},
        "fit_seconds": 12.34,
        "eval_seconds": 1.0,
        "peak_memory_mb": 900.4,
        **extra,
    }


def test_markdown_table_with_epoch_times_errors_and_paired_tests():
    report = {
        "command": "python -m recengine bench ...",
        "models": [
            _row("bpr", 0.25, epoch_seconds=2.5, best_epoch=7),
            _row("pop", 0.125),
            {"model": "mf", "error": "needs ratings"},
        ],
        "paired_tests": [
            {
                "a": "bpr",
                "b": "pop",
                "metric": "NDCG@10",
                "mean_difference": 0.125,
                "n_users": 10,
                "wilcoxon_p": 0.002,
                "t_p": 0.001,
            }
        ],
    }
    lines = markdown(report, ["NDCG@10"]).splitlines()
    assert (
        lines[0] == "| model | NDCG@10 | fit s | s/epoch median (best epoch) | eval s | peak MB "
        "| hyperparameters |"
    )
    assert lines[2] == '| bpr | 0.2500 | 12.3 | 2.5 (7) | 1.0 | 900 | `{"factors": 8}` |'
    assert lines[3] == '| pop | 0.1250 | 12.3 |  | 1.0 | 900 | `{"factors": 8}` |'
    assert lines[4].startswith("| mf | n/a: needs ratings |")
    assert lines[-1] == (
        "- bpr vs pop on NDCG@10: difference +0.1250 over 10 users, "
        "Wilcoxon p = 0.002, paired t p = 0.001"
    )

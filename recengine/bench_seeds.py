"""`python -m recengine seeds A.json B.json C.json`: one benchmark over several seeds.

Each JSON is one seed's run of the same command (with ``--per-user`` rows beside it as
``<name>-rows.npz``). Prints, per model, the mean and the spread (sample standard deviation)
over the seeds of each metric, and for each asked pair the paired test of every seed over
the events both models ranked (never pooled across seeds: each seed is its own data).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .evaluation import metric_name_check
from .stats import paired_test

SHOWN = ("AUC", "MRR", "Recall@20", "NDCG@20")


def _rows_path(path: Path) -> Path:
    return path.with_name(path.stem + "-rows.npz")


def _label(row: dict) -> str:
    return f"{row['model']} ({row['reference']})" if row.get("reference") else row["model"]


def summarise(paths: list[str], metric: str, pairs: list[tuple[str, str]]) -> dict:
    metric_name_check(metric)
    reports = [json.loads(Path(p).read_text()) for p in paths]
    models: dict[str, dict] = {}
    for report in reports:
        for row in report["models"]:
            entry = models.setdefault(row["model"], {"label": _label(row), "values": {}})
            if "error" in row:
                entry["error"] = row["error"]
                continue
            for key, value in row["metrics"].items():
                entry["values"].setdefault(key, []).append(value)
    for entry in models.values():
        entry["mean"] = {k: float(np.mean(v)) for k, v in entry["values"].items()}
        entry["sd"] = {
            k: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for k, v in entry["values"].items()
        }
    tests = []
    for a, b in pairs:
        for path, report in zip(paths, reports, strict=True):
            rows = np.load(_rows_path(Path(path)))
            if f"{a}/keys" not in rows or f"{b}/keys" not in rows:
                continue
            test = paired_test(
                rows[f"{a}/keys"], rows[f"{a}/{metric}"], rows[f"{b}/keys"], rows[f"{b}/{metric}"],
                metric,
            )  # fmt: skip
            tests.append(
                {"a": a, "b": b, "seed": report["seed"], "snapshot": report.get("snapshot"),
                 **test.as_dict()}
            )  # fmt: skip
    first = reports[0]
    return {
        "runs": [str(p) for p in paths],
        "seeds": [r["seed"] for r in reports],
        "snapshots": [r.get("snapshot") for r in reports],
        "split": first["split"],
        "protocol": first["protocol"],
        "command": first["command"],
        "metric": metric,
        "models": models,
        "paired_tests": tests,
    }


def markdown(summary: dict) -> str:
    keys = [k for k in SHOWN if any(k in m.get("mean", {}) for m in summary["models"].values())]
    seeds = ", ".join(str(s) for s in summary["seeds"])
    lines = [
        f"{summary['split']} split, {summary['protocol']} protocol; seeds {seeds}: "
        "mean ± sd over the seeds",
        "",
        "| model | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for entry in summary["models"].values():
        if "error" in entry and not entry["values"]:
            lines.append(
                f"| {entry['label']} | n/a: {entry['error'][:80]} |" + " |" * (len(keys) - 1)
            )
            continue
        cells = [
            f"{entry['mean'][k]:.4f} ± {entry['sd'][k]:.4f}" if k in entry["mean"] else "—"
            for k in keys
        ]
        lines.append(f"| {entry['label']} | " + " | ".join(cells) + " |")
    if summary["paired_tests"]:
        lines += ["", f"Paired tests on {summary['metric']}, each seed on its own events:", ""]
        lines += ["| a | b | seed | events | mean a | mean b | Wilcoxon p | paired t p |"]
        lines += ["|---|---|---|---|---|---|---|---|"]
        for t in summary["paired_tests"]:
            lines.append(
                f"| {t['a']} | {t['b']} | {t['seed']} | {t['n_pairs']} | {t['mean_a']:.4f} | "
                f"{t['mean_b']:.4f} | {t['wilcoxon_p']:.2g} | {t['t_p']:.2g} |"
            )
    snapshots = ", ".join(str(s) for s in summary["snapshots"])
    lines += ["", f"Data snapshots: {snapshots}", f"Command (per seed): `{summary['command']}`"]
    return "\n".join(lines)


def run(paths: list[str], metric: str, pairs: str, out: str | None) -> dict:
    chosen = [tuple(p.split(":", 1)) for p in pairs.split(",") if ":" in p] if pairs else []
    summary = summarise(paths, metric, chosen)
    print(markdown(summary))
    if out:
        Path(out).write_text(json.dumps(summary, indent=2))
    return summary

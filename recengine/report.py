"""`python -m recengine report results.json ...`: benchmark JSON as Markdown tables."""

from __future__ import annotations

import json
from pathlib import Path


def _value(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def markdown(report: dict, metrics: list[str] | None = None) -> str:
    rows = report["models"]
    keys = metrics or list(dict.fromkeys(k for r in rows for k in r.get("metrics", {})))
    epochs = any(row.get("epoch_seconds") for row in rows)
    timing = ["fit s", "s/epoch median (best epoch)"] if epochs else ["fit s"]
    header = ["model", *keys, *timing, "eval s", "peak MB", "hyperparameters"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['model']} | n/a: {row['error']} |" + " |" * (len(header) - 2))
            continue
        params = {
            k: v
            for k, v in row["hyperparameters"].items()
            if k not in ("device", "amp", "valid_users", "seed", "eval_every")
        }
        name = f"{row['model']} ({row['reference']})" if row.get("reference") else row["model"]
        cells = [name, *(_value(row["metrics"].get(k, "—")) for k in keys)]
        cells.append(f"{row['fit_seconds']:.1f}")
        if epochs:
            seconds = row.get("epoch_seconds_median", row.get("epoch_seconds"))
            best = row.get("best_epoch")
            cells.append(f"{seconds:.1f} ({best})" if seconds else "")
        cells.append(f"{row['eval_seconds']:.1f}")
        cells += [f"{row['peak_memory_mb']:.0f}", "`" + json.dumps(params) + "`"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if report.get("snapshot"):
        lines.append(f"Data snapshot: `{report['snapshot']}`")
    lines.append(f"Command: `{' '.join(report['command'].split())}`")
    for test in report.get("paired_tests", []):
        if "error" in test:
            lines.append(f"- {test['a']} vs {test['b']}: no paired test ({test['error']})")
            continue
        pairs = test.get("n_pairs", test.get("n_users"))  # older reports counted users
        lines.append(
            f"- {test['a']} vs {test['b']} on {test['metric']}: difference "
            f"{test['mean_difference']:+.4f} over {pairs} {test.get('unit', 'users')}, "
            f"Wilcoxon p = {test['wilcoxon_p']:.2g}, paired t p = {test['t_p']:.2g}"
        )
    return "\n".join(lines)


def run(paths: list[str], metrics: list[str] | None) -> str:
    parts = []
    for path in paths:
        report = json.loads(Path(path).read_text())
        title = f"{report['dataset']}: {report['split']} split, {report['protocol']} ranking"
        if report.get("negatives"):
            title += f" ({report['negatives']})"
        parts.append(f"### {title}\n\n{markdown(report, metrics)}\n")
    text = "\n".join(parts)
    print(text)
    return text

"""`python -m recengine merge OUT.json A.json=tag B.json=tag ...`: one seed's runs of the
same protocol on different item features, as one benchmark file.

A run reads one feature set; comparing features (handcrafted against a pretrained CNN)
takes one run each. Merged, each model is renamed ``model[tag]`` and its per-event rows
come along (``OUT-rows.npz``), so `python -m recengine seeds` pairs them on the same
events. Runs that did not rank the same events (another seed, split or protocol, or other
interactions) are refused rather than merged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# What must agree for two runs to have ranked the same events.
SAME = ("split", "protocol", "seed", "users", "items", "train_interactions", "test_interactions")


def _rows_path(path: Path) -> Path:
    return path.with_name(path.stem + "-rows.npz")


def merge(out: str, parts: list[tuple[str, str]]) -> dict:
    """parts: (json path, tag) pairs; writes OUT and its rows; returns the merged report."""
    if not parts:
        raise ValueError("nothing to merge")
    merged, arrays, snapshots = None, {}, {}
    for path, tag in parts:
        report = json.loads(Path(path).read_text())
        if merged is None:
            merged = {**report, "models": [], "paired_tests": [], "merged_from": []}
        for key in SAME:
            if report.get(key) != merged.get(key):
                raise ValueError(
                    f"{path} has {key} {report.get(key)!r}, the first run "
                    f"{merged.get(key)!r}: not the same events"
                )
        snapshots[tag] = report.get("snapshot")
        merged["merged_from"].append({"file": str(path), "tag": tag, "dataset": report["dataset"]})
        for row in report["models"]:
            merged["models"].append({**row, "model": f"{row['model']}[{tag}]", "features": tag})
        rows_file = _rows_path(Path(path))
        if rows_file.exists():
            with np.load(rows_file, allow_pickle=True) as rows:
                for key in rows.files:
                    if key == "snapshot":
                        continue
                    model, _, name = key.partition("/")
                    arrays[f"{model}[{tag}]/{name}"] = rows[key]
    merged["snapshot"] = " + ".join(f"{tag}: {s}" for tag, s in snapshots.items())
    merged["dataset"] = "merged: " + ", ".join(m["dataset"] for m in merged["merged_from"])
    Path(out).write_text(json.dumps(merged, indent=2))
    if arrays:
        np.savez_compressed(_rows_path(Path(out)), snapshot=np.array(merged["snapshot"]), **arrays)
    return merged


def run(out: str, specs: list[str]) -> None:
    parts = []
    for spec in specs:
        path, sep, tag = spec.rpartition("=")
        if not sep or not tag:
            raise ValueError(f"{spec!r}: give FILE.json=tag")
        parts.append((path, tag))
    report = merge(out, parts)
    print(f"{out}: {len(report['models'])} models from {len(parts)} runs")

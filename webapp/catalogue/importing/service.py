"""The entry point, `gallery_import`: validate everything, plan, then write.

See the package docstring for the three phases.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from webapp.catalogue.importing.embeddings import Embeddings, load_embeddings
from webapp.catalogue.importing.images import ImageSource, validate_images
from webapp.catalogue.importing.parsing import unstorable_reason
from webapp.catalogue.importing.planning import (
    artworks_by_external_id,
    existing_artwork_pks,
    make_plan,
)
from webapp.catalogue.importing.report import (
    ImportFailed,
    ImportReport,
    Problem,
    ProgressCallback,
)
from webapp.catalogue.importing.rows import InteractionRow, parse_interactions, parse_items
from webapp.catalogue.importing.sales import plan_sales
from webapp.catalogue.importing.staging import staging_cleanup
from webapp.catalogue.importing.writing import write

IMPLIED_ARTIST = "Unknown artist"


def gallery_import(
    *,
    items_path: str | os.PathLike | None,
    interactions_path: str | os.PathLike,
    images_dir: str | os.PathLike | None = None,
    embeddings_path: str | os.PathLike | None = None,
    embeddings_name: str = "imported",
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Validate and import a gallery; raise ImportFailed (nothing written) on any problem.

    `progress(stage, done, total)` is called now and then, e.g. to drive a progress bar.
    With `dry_run` everything is validated and counted against the database, and nothing
    is written. Without `items_path`, every item id of the interactions (and embeddings)
    not yet in the catalogue becomes a work titled by its id, by "Unknown artist".

    Images and the feature-set file are staged and moved into place once the transaction
    has committed; SIGINT, SIGTERM or SIGHUP while writing roll it back, remove the staged
    files and raise ImportInterrupted (writing.py, staging.py).
    """
    if items_path is None:
        with tempfile.TemporaryDirectory() as folder:
            implied = _implied_items(Path(interactions_path), embeddings_path, Path(folder))
            return gallery_import(
                items_path=implied,
                interactions_path=interactions_path,
                images_dir=images_dir,
                embeddings_path=embeddings_path,
                embeddings_name=embeddings_name,
                dry_run=dry_run,
                progress=progress,
            )
    items_path = Path(items_path)
    interactions_path = Path(interactions_path)
    report = ImportReport(
        items_file=items_path.name, interactions_file=interactions_path.name, dry_run=dry_run
    )
    embeddings_name = (embeddings_name or "").strip()
    if not embeddings_name or len(embeddings_name) > 100:
        report.problems.append(
            Problem("--embeddings-name", None, "must be 1 to 100 characters long")
        )
    elif reason := unstorable_reason(embeddings_name):
        report.problems.append(Problem("--embeddings-name", None, reason))

    if not dry_run:  # files left by an import that was killed: settle them first
        staging_cleanup()

    # 1. Validate.
    if progress:
        progress("items", 0, None)
    items, rejected = parse_items(items_path, report)
    rows_with_ids = sorted([*items.values(), *rejected], key=lambda item: item.line)
    rows_with_ids = [item for item in rows_with_ids if item.item_id]
    mentioned = {item.item_id for item in rows_with_ids}
    images: dict[str, ImageSource] = {}
    if images_dir is not None:
        images = validate_images(Path(images_dir), rows_with_ids, items_path.name, report, progress)
    elif any(item.image_value for item in items.values()):
        report.notes.append(
            f"{items_path.name}: the image column was ignored because no images folder was given"
        )
    if progress:
        progress("interactions", 0, None)
    interactions = parse_interactions(interactions_path, report)
    embeddings = None
    if embeddings_path is not None:
        embeddings = load_embeddings(Path(embeddings_path), report)

    embeddings_file = Path(embeddings_path).name if embeddings_path is not None else ""
    other_pks = _check_references(mentioned, interactions, embeddings, embeddings_file, report)
    if report.problems:
        order = {items_path.name: 0, interactions_path.name: 1}
        report.problems.sort(key=lambda p: (order.get(p.file, 2), p.line or 0))
        raise ImportFailed(report)

    # 2. Plan. Sales first: a purchase keeps its work sold whatever the items row says.
    artworks = artworks_by_external_id(items)
    plan_sales(items, interactions, artworks, other_pks, report)
    plan = make_plan(
        items,
        images,
        interactions,
        other_pks,
        embeddings,
        embeddings_name,
        report,
        artworks=artworks,
    )
    if dry_run:
        return report

    # 3. Write, all or nothing.
    write(plan, items, embeddings, embeddings_name, report, progress)
    return report


def _check_references(
    mentioned: set[str],
    interactions: list[InteractionRow],
    embeddings: Embeddings | None,
    embeddings_file: str,
    report: ImportReport,
) -> dict[str, int]:
    """Item ids that are not in the items file must already be in the database.

    Return the database pks of those that are, by external_id; report the others.
    """
    referenced = {row.item_id for row in interactions} | set(
        embeddings.item_ids if embeddings else ()
    )
    other_pks = existing_artwork_pks(referenced - mentioned)
    for row in interactions:
        if row.item_id not in mentioned and row.item_id not in other_pks:
            report.problems.append(
                Problem(
                    report.interactions_file,
                    row.line,
                    f"unknown item_id {row.item_id!r} (not in {report.items_file} "
                    "nor in the catalogue)",
                )
            )
    if embeddings is not None:
        for row, item_id in enumerate(embeddings.item_ids, start=1):
            if item_id not in mentioned and item_id not in other_pks:
                report.problems.append(
                    Problem(
                        embeddings_file,
                        None,
                        f"row {row}: unknown item id {item_id!r} (not in {report.items_file} "
                        "nor in the catalogue)",
                    )
                )
    return other_pks


def _implied_items(interactions_path: Path, embeddings_path, folder: Path) -> Path:
    """An items CSV for ids that only interactions and embeddings name. Malformed input
    is left for the real import to report, line by line."""
    ids: dict[str, None] = {}
    try:
        with open(interactions_path, newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                item_id = (row.get("item_id") or "").strip()
                if item_id and not unstorable_reason(item_id):  # the import reports it
                    ids[item_id] = None
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    if embeddings_path is not None:
        scratch = ImportReport(items_file="", interactions_file="", dry_run=True)
        try:
            embeddings = load_embeddings(Path(embeddings_path), scratch)
        except Exception:  # reported properly by the real import
            embeddings = None
        if embeddings is not None:
            ids.update(dict.fromkeys(embeddings.item_ids))
    known = existing_artwork_pks(set(ids))
    path = folder / "implied-items.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "title", "artist"])
        for item_id in ids:
            if item_id not in known:
                writer.writerow([item_id, f"Work {item_id}", IMPLIED_ARTIST])
    return path

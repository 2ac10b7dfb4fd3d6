"""The two CSV files, items and interactions, read into validated rows."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from webapp.catalogue.importing.parsing import (
    BadValue,
    check_date_range,
    event_date_range,
    parse_bool,
    parse_float,
    parse_int,
    parse_price,
    parse_when,
    read_csv,
    required_text,
    split_tags,
)
from webapp.catalogue.importing.report import MAX_NOTE_EXAMPLES, ImportReport, Problem
from webapp.catalogue.models import KIND_PATTERN, Interaction

ITEM_REQUIRED = ("item_id", "title", "artist")
ITEM_OPTIONAL = (
    "year",
    "medium",
    "style_tags",
    "width_cm",
    "height_cm",
    "price",
    "listed_at",
    "sold",
    "image",
)
INTERACTION_REQUIRED = ("user_id", "item_id", "timestamp")
INTERACTION_OPTIONAL = ("kind", "rating", "evaluation", "weight")
KIND_LABEL = re.compile(f"^{KIND_PATTERN}$")


@dataclass
class ItemRow:
    line: int
    item_id: str
    title: str
    artist: str
    values: dict  # model field -> value, only for columns present in the file
    listed_at: dt.datetime | None
    image_value: str  # the `image` cell, "" if none
    sold: bool | None = None  # what the `sold` cell says; None when blank or absent


@dataclass
class InteractionRow:
    line: int
    user_id: str
    item_id: str
    kind: str
    timestamp: dt.datetime
    rating: float | None
    is_evaluation: bool
    weight: float = 1.0


def parse_items(path: Path, report: ImportReport) -> tuple[dict[str, ItemRow], list[ItemRow]]:
    """Return (valid items by item_id, rejected rows).

    Rejected rows are kept (with what could be read) so their images are still checked and
    interactions that name them are not reported a second time as unknown items.
    """
    name = path.name
    items: dict[str, ItemRow] = {}
    rejected: list[ItemRow] = []
    dates = event_date_range()
    for line, row in read_csv(path, required=ITEM_REQUIRED, optional=ITEM_OPTIONAL, report=report):
        errors: list[str] = []

        item_id = required_text(row, "item_id", 100, errors)
        title = required_text(row, "title", 300, errors)
        artist = required_text(row, "artist", 200, errors)
        values: dict = {}
        listed_at = None
        for column, parse, target in (
            ("year", partial(parse_int, minimum=0, maximum=9999), "year"),
            ("width_cm", partial(parse_float, minimum=0), "width_cm"),
            ("height_cm", partial(parse_float, minimum=0), "height_cm"),
            ("price", parse_price, "price"),
        ):
            if column in row:
                text = row[column]
                try:
                    values[target] = parse(text) if text else None
                except BadValue as error:
                    errors.append(f"{column}: {error}")
        if "medium" in row:
            if len(row["medium"]) > 100:
                errors.append("medium: longer than 100 characters")
            values["medium"] = row["medium"]
        if "style_tags" in row:
            values["style_tags"] = split_tags(row["style_tags"])
        sold = None
        if "sold" in row:
            try:
                sold = parse_bool(row["sold"]) if row["sold"] else None
                values["is_sold"] = bool(sold)
            except BadValue as error:
                errors.append(f"sold: {error}")
        if row.get("listed_at"):
            try:
                listed_at = parse_when(row["listed_at"])
                check_date_range(listed_at, row["listed_at"], dates)
            except BadValue as error:
                errors.append(f"listed_at: {error}")
        if item_id and item_id in items:
            errors.append(f"duplicate item_id {item_id!r} (first on line {items[item_id].line})")
        parsed = ItemRow(
            line=line,
            item_id=item_id,
            title=title,
            artist=artist,
            values=values,
            listed_at=listed_at,
            image_value=row.get("image", ""),
            sold=sold,
        )
        if errors:
            report.problems.extend(Problem(name, line, error) for error in errors)
            rejected.append(parsed)
            continue
        items[item_id] = parsed
    return items, rejected


def parse_interactions(path: Path, report: ImportReport) -> list[InteractionRow]:
    """Return the valid interactions; exact duplicate rows are skipped with a note."""
    name = path.name
    rows: list[InteractionRow] = []
    seen: dict[tuple, InteractionRow] = {}
    duplicates: list[int] = []
    dates = event_date_range()
    for line, row in read_csv(
        path, required=INTERACTION_REQUIRED, optional=INTERACTION_OPTIONAL, report=report
    ):
        errors: list[str] = []
        user_id = required_text(row, "user_id", 100, errors)
        item_id = required_text(row, "item_id", 100, errors)
        timestamp = None
        if not row["timestamp"]:
            errors.append("timestamp: empty")
        else:
            try:
                timestamp = parse_when(row["timestamp"])
                check_date_range(timestamp, row["timestamp"], dates)
            except BadValue as error:
                errors.append(f"timestamp: {error}")
        kind = (row.get("kind") or Interaction.Kind.PURCHASE.value).lower()
        if not KIND_LABEL.match(kind):
            errors.append(
                f"kind: not a kind label: {row['kind']!r} (a letter, then up to 29 letters, "
                "digits or _; e.g. purchase, like, view, rating, add_to_cart)"
            )
        weight = 1.0
        if row.get("weight"):
            try:
                weight = parse_float(row["weight"])
                if weight <= 0:
                    raise BadValue(f"must be greater than 0: {row['weight']!r}")
            except BadValue as error:
                errors.append(f"weight: {error}")
        rating = None
        if row.get("rating"):
            try:
                rating = parse_float(row["rating"])
            except BadValue as error:
                errors.append(f"rating: {error}")
        elif kind == Interaction.Kind.RATING:
            errors.append("rating: kind 'rating' needs a rating value")
        is_evaluation = False
        if row.get("evaluation"):
            try:
                is_evaluation = parse_bool(row["evaluation"])
            except BadValue as error:
                errors.append(f"evaluation: {error}")
        if errors:
            report.problems.extend(Problem(name, line, error) for error in errors)
            continue
        record = InteractionRow(
            line, user_id, item_id, kind, timestamp, rating, is_evaluation, weight
        )
        key = (user_id, item_id, kind, timestamp)
        first = seen.get(key)
        if first is not None:
            if (first.rating, first.is_evaluation, first.weight) == (rating, is_evaluation, weight):
                duplicates.append(line)
            else:
                report.problems.append(
                    Problem(
                        name,
                        line,
                        f"same user, item, kind and timestamp as line {first.line} "
                        "but a different rating, weight or evaluation flag",
                    )
                )
            continue
        seen[key] = record
        rows.append(record)
    if duplicates:
        examples = ", ".join(map(str, duplicates[:MAX_NOTE_EXAMPLES]))
        report.notes.append(
            f"{name}: skipped {len(duplicates)} exact duplicate row(s) (lines {examples}"
            f"{', ...' if len(duplicates) > MAX_NOTE_EXAMPLES else ''})"
        )
    return rows

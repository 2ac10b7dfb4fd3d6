"""Reading the CSV files (with editor line numbers) and parsing their cell values."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import math
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from django.utils import timezone

from webapp.catalogue.importing.report import ImportReport, Problem, short_error

TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}
UNIX_SECONDS = re.compile(r"^[+-]?\d+(\.\d*)?$")


# --------------------------------------------------------------------------- cell values


class BadValue(ValueError):
    """A cell value that cannot be parsed; the message says why."""


def parse_float(text: str, *, minimum: float | None = None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise BadValue(f"not a finite number: {text!r}")
    if minimum is not None and value < minimum:
        raise BadValue(f"must be at least {minimum:g}: {text!r}")
    return value


def parse_int(text: str, *, minimum: int, maximum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        number = parse_float(text)
        if not number.is_integer():
            raise BadValue(f"not a whole number: {text!r}") from None
        value = int(number)
    if not minimum <= value <= maximum:
        raise BadValue(f"out of range {minimum}..{maximum}: {text!r}")
    return value


def parse_price(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadValue(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise BadValue(f"not a finite number: {text!r}")
    if value < 0:
        raise BadValue(f"must not be negative: {text!r}")
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if value >= Decimal("1e10"):
        raise BadValue(f"too large (at most 9999999999.99): {text!r}")
    return value


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise BadValue(f"not a boolean (true/false/1/0/yes/no): {text!r}")


def parse_when(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time, or unix seconds; naive values are in settings.TIME_ZONE."""
    text = text.strip()
    try:
        if UNIX_SECONDS.match(text):
            seconds = float(text)
            if not math.isfinite(seconds):
                raise ValueError
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        value = dt.datetime.fromisoformat(text)
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise BadValue(f"not an ISO date/date-time or unix seconds: {text!r}") from None


def split_tags(text: str) -> list[str]:
    return [tag.strip() for tag in re.split(r"[;|]", text) if tag.strip()]


def required_text(row: dict[str, str], column: str, max_length: int, errors: list[str]) -> str:
    """The cell of a required text column; an empty or too long one is added to `errors`."""
    value = row[column]
    if not value:
        errors.append(f"{column}: empty")
    elif len(value) > max_length:
        errors.append(f"{column}: longer than {max_length} characters")
    return value


# --------------------------------------------------------------------------- CSV reading


def read_csv(
    path: Path, *, required: tuple[str, ...], optional: tuple[str, ...], report: ImportReport
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line, {column: stripped value}) for every non-blank row; report problems.

    The line is where the record starts, as an editor shows it (the header is line 1).
    """
    name = path.name
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        report.problems.append(Problem(name, None, f"file not found: {path}"))
        return
    except OSError as error:
        report.problems.append(Problem(name, None, f"cannot open: {error.strerror or error}"))
        return
    rows = 0
    with handle:
        # Decoded line by line so a bad byte is reported on its own line.
        reader = csv.reader(_utf8_lines(handle))
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as error:
            report.problems.append(Problem(name, 1, f"unreadable header: {short_error(error)}"))
            return
        if not header or not any(cell.strip() for cell in header):
            report.problems.append(Problem(name, 1, "empty file: no header row"))
            return
        columns = [cell.strip().lower() for cell in header]
        seen: set[str] = set()
        for column in columns:
            if column in seen and column:
                report.problems.append(Problem(name, 1, f"column {column!r} appears twice"))
            seen.add(column)
        missing = [column for column in required if column not in seen]
        if missing:
            report.problems.append(
                Problem(name, 1, f"missing required column(s): {', '.join(missing)}")
            )
            return
        unknown = [
            c for c in dict.fromkeys(columns) if c and c not in required and c not in optional
        ]
        if unknown:
            report.notes.append(f"{name}: ignored unknown column(s): {', '.join(unknown)}")
        width = len(columns)
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except UnicodeDecodeError as error:
                report.problems.append(
                    Problem(name, start, f"not UTF-8 text ({error.reason}); reading stopped")
                )
                return
            except csv.Error as error:
                report.problems.append(
                    Problem(name, start, f"malformed CSV ({error}); reading stopped")
                )
                return
            if not any(cell.strip() for cell in cells):
                continue
            rows += 1
            if len(cells) != width:
                report.problems.append(
                    Problem(name, start, f"expected {width} fields, found {len(cells)}")
                )
                continue
            yield start, {column: cell.strip() for column, cell in zip(columns, cells, strict=True)}
    if rows == 0:
        report.notes.append(f"{name}: no data rows")


def _utf8_lines(handle) -> Iterator[str]:
    for index, raw in enumerate(handle):
        if index == 0 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        yield raw.decode("utf-8")

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

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from webapp.catalogue.importing.report import ImportReport, Problem, short_error

TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}
UNIX_SECONDS = re.compile(r"^[+-]?\d+(\.\d+)?$")
# ISO 8601 in its extended form only: the basic form (20240401) is not told from seconds.
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)
# Eight digits read as a compact date (20240401) as easily as unix seconds (in 1970).
COMPACT_DATE = re.compile(r"^\d{8}(\.\d+)?$")
ACCEPTED_TIMES = (
    "an ISO 8601 date (2024-04-01), date-time (2024-04-01T12:00:00, optionally with Z or "
    "+02:00) or unix seconds (1711972800)"
)
# PostgreSQL stores neither NUL nor a lone surrogate (not Unicode text at all) in a text
# column or JSON; SQLite would take them, so they are refused everywhere.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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
    """An ISO 8601 date or date-time (extended form: 2024-04-01, 2024-04-01T12:00:00+02:00),
    or unix seconds; naive values are in settings.TIME_ZONE. Eight digits (20240401) are
    refused: a compact date would otherwise be read as seconds in 1970."""
    text = text.strip()
    if COMPACT_DATE.match(text):
        raise BadValue(
            f"{text!r} has 8 digits, like a compact date (YYYYMMDD), and is not read as unix "
            f"seconds in 1970; write {ACCEPTED_TIMES}"
        )
    try:
        if UNIX_SECONDS.match(text):
            return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
        if not (ISO_DATE.match(text) or ISO_DATE_TIME.match(text)):
            raise BadValue(f"not a timestamp: {text!r}; write {ACCEPTED_TIMES}")
        value = dt.datetime.fromisoformat(text)
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError, OSError) as error:
        if isinstance(error, BadValue):
            raise
        raise BadValue(
            f"not a valid date or time, or out of range: {text!r}{_milliseconds_hint(text)}"
        ) from None


def _milliseconds_hint(text: str) -> str:
    digits = text.lstrip("+-").split(".")[0]
    if UNIX_SECONDS.match(text) and len(digits) >= 12:
        return " (milliseconds? unix seconds have 10 digits)"
    return ""


def event_date_range() -> tuple[dt.datetime, dt.datetime]:
    """(earliest, latest) accepted timestamp: VITRINE_EVENT_DATE_MIN and _MAX, the latter
    a day after now when empty."""
    bounds = []
    for name, default in (
        ("VITRINE_EVENT_DATE_MIN", None),
        ("VITRINE_EVENT_DATE_MAX", timezone.now() + dt.timedelta(days=1)),
    ):
        text = str(getattr(settings, name, "") or "").strip()
        if not text and default is not None:
            bounds.append(default)
            continue
        try:
            bounds.append(parse_when(text))
        except BadValue as error:
            raise ImproperlyConfigured(f"{name}={text!r}: {error}") from None
    return bounds[0], bounds[1]


def check_date_range(
    value: dt.datetime, text: str, bounds: tuple[dt.datetime, dt.datetime]
) -> None:
    """Refuse a timestamp before or after the accepted range (BadValue)."""
    earliest, latest = bounds
    if not earliest <= value <= latest:
        raise BadValue(
            f"{text!r} ({value.date().isoformat()}) is outside the accepted range "
            f"{earliest.isoformat(timespec='minutes')} to {latest.isoformat(timespec='minutes')}"
            f"{_milliseconds_hint(text)} (VITRINE_EVENT_DATE_MIN, VITRINE_EVENT_DATE_MAX)"
        )


def unstorable_reason(text: str) -> str | None:
    """Why the database cannot store this text (a NUL, a lone surrogate), or None."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    kind = "a NUL character" if char == "\x00" else "a lone surrogate (not valid Unicode)"
    return f"contains {kind} (U+{ord(char):04X}) at position {found.start() + 1}"


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
            row = {column: cell.strip() for column, cell in zip(columns, cells, strict=True)}
            for column in (*required, *optional):
                reason = unstorable_reason(row.get(column, ""))
                if reason:
                    report.problems.append(Problem(name, start, f"{column}: {reason}"))
                    # Kept out of every later query (PostgreSQL refuses it even there); the
                    # problem above already stops the import.
                    row[column] = UNSTORABLE.sub("\ufffd", row[column])
            yield start, row
    if rows == 0:
        report.notes.append(f"{name}: no data rows")


def _utf8_lines(handle) -> Iterator[str]:
    for index, raw in enumerate(handle):
        if index == 0 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        yield raw.decode("utf-8")

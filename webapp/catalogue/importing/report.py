"""What an import tells its caller: the report, its problems and counts, progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

#: progress(stage, done, total) is called now and then, e.g. to drive a progress bar.
ProgressCallback = Callable[[str, int, int | None], None]

#: How many examples a note lists before it says "and N more".
MAX_NOTE_EXAMPLES = 10


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input. `line` is 1-based as in an editor (header = line 1)."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Purchase:
    """One purchase of a work, as a sale warning names it."""

    user_id: str
    timestamp: dt.datetime
    #: (file, line) of the row, or None for a purchase already in the catalogue.
    source: tuple[str, int] | None

    def __str__(self) -> str:
        where = f"{self.source[0]}:{self.source[1]}" if self.source else "in the catalogue"
        when = self.timestamp.astimezone(dt.UTC)
        return f"{self.user_id} at {when:%Y-%m-%dT%H:%M:%SZ} ({where})"


@dataclass
class SaleConflict:
    """A work whose data disagree about its sale. The import goes on (it is a warning, not
    a problem) and the work stays sold from its first purchase; the report names it."""

    SOLD_TWICE = "sold twice"
    PURCHASED_NOT_SOLD = "purchased but sold=false"

    kind: str  # SOLD_TWICE or PURCHASED_NOT_SOLD
    item_id: str
    title: str
    purchases: list[Purchase]  # oldest first
    items_line: int | None = None  # the work's line in the items file, if it is there
    artwork_pk: int | None = None  # None for a work this import creates, until it is written

    def __str__(self) -> str:
        work = f"work {self.item_id!r} ({self.title!r}"
        work += f", artwork {self.artwork_pk})" if self.artwork_pk is not None else ")"
        bought = "; ".join(map(str, self.purchases))
        if self.kind == self.SOLD_TWICE:
            users = len({p.user_id for p in self.purchases})
            return (
                f"{work} was bought by {users} collectors, though one of a kind: {bought}; "
                "it is sold from the first purchase"
            )
        return (
            f"{work} says sold=false on line {self.items_line} but was bought: {bought}; "
            "it stays sold"
        )


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportReport:
    items_file: str = ""
    interactions_file: str = ""
    dry_run: bool = False
    written: bool = False
    artists: Counts = field(default_factory=Counts)
    artworks: Counts = field(default_factory=Counts)
    collectors: Counts = field(default_factory=Counts)
    interactions: Counts = field(default_factory=Counts)
    #: created = first image of an artwork, updated = replaced, unchanged = same checksum.
    images: Counts = field(default_factory=Counts)
    #: Works sold by a purchase: created = newly given a sale time, updated = an earlier
    #: purchase moved it, unchanged = already sold at that time.
    sales: Counts = field(default_factory=Counts)
    #: Works the data disagree about (sold twice, purchased but sold=false): warnings.
    sale_conflicts: list[SaleConflict] = field(default_factory=list)
    #: (name, n_items, dim, created?) of the embeddings, if any were given.
    feature_set: tuple[str, int, int, bool] | None = None
    feature_set_id: int | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines: list[str] = []
        if self.problems:
            lines.append(
                f"Import of {self.items_file} and {self.interactions_file} refused: "
                f"{len(self.problems)} problem(s); nothing was written."
            )
            lines.extend(f"  {problem}" for problem in self.problems)
        else:
            if self.dry_run:
                head = "Dry run: nothing was written. The import would give:"
                verbs = ("to create", "to update", "unchanged")
            else:
                head = f"Imported {self.items_file} and {self.interactions_file}:"
                verbs = ("created", "updated", "unchanged")
            lines.append(head)
            for label, counts in (
                ("artists", self.artists),
                ("artworks", self.artworks),
                ("collectors", self.collectors),
                ("interactions", self.interactions),
                ("images", self.images),
            ):
                lines.append(
                    f"  {label + ':':<14}{counts.created} {verbs[0]}, "
                    f"{counts.updated} {verbs[1]}, {counts.unchanged} {verbs[2]}"
                )
            if self.feature_set is not None:
                name, n_items, dim, created = self.feature_set
                state = verbs[0] if created else "unchanged (same file already imported)"
                lines.append(f"  {'feature set:':<14}'{name}' {n_items} × {dim}, {state}")
            lines.append(
                f"  {'sales:':<14}{self.sales.created} {verbs[0]}, "
                f"{self.sales.updated} {verbs[1]}, {self.sales.unchanged} {verbs[2]} "
                "(works sold by a purchase)"
            )
            if self.sale_conflicts:
                lines.append(f"Warnings ({len(self.sale_conflicts)} work(s)):")
                lines.extend(f"  - {conflict}" for conflict in self.sale_conflicts)
        if self.notes:
            lines.append("Notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ImportFailed(Exception):
    """The input has problems; `report.problems` lists every one. Nothing was written."""

    def __init__(self, report: ImportReport):
        self.report = report
        self.problems = report.problems
        super().__init__(report.render())


def short_error(error: BaseException) -> str:
    """An exception's text, cut to 200 characters for a problem or a note."""
    text = str(error)
    return text if len(text) <= 200 else text[:197] + "..."


def progress_tick(progress: ProgressCallback | None, stage: str, done: int, total: int) -> None:
    """Call `progress` every 200 steps and at the last one."""
    if progress and (done % 200 == 0 or done == total):
        progress(stage, done, total)

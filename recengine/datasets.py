"""Benchmark datasets from a directory of CSV files (the format of ../shared/data).

    train.csv          user_id,item_id[,timestamp][,rating][,kind][,weight]
                                                               training interactions
    test.csv, valid.csv                                        given held-out interactions
    negatives.csv      user_id,item_id                         sampled-protocol negatives
    interactions.csv   user_id,item_id[,timestamp][,rating]    everything, split by a protocol
    items.csv          item_id,<attribute columns>             side information
    item_attributes.json  {item_id: [attribute ids]}           side information

An optional ``kind`` column names each event's kind (view, like, purchase, ...) and
``weight`` its weight; without ``kind`` every row is an unnamed event.

Every file shares one user and one item index: the catalogue is the union of the ids
seen anywhere, in order of first appearance (train, then the others), so an item that
appears only in test is still a rankable (cold-start) item.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .data import Interactions
from .sampling import Negatives

INTERACTION_FILES = ("train", "valid", "test", "interactions")
# items.csv columns that are not categorical attributes
_ITEM_SKIP = {"item_id", "title", "image", "path", "image_path", "description"}


class DatasetError(ValueError):
    """A benchmark file is missing or malformed; the message names the file and line."""


@dataclass
class BenchmarkData:
    """What a benchmark directory holds, on one shared index.

    train/valid/test: the given split (valid and test may be None);
    interactions: interactions.csv, for protocols that split it themselves;
    negatives: negatives.csv as Negatives, or None.
    """

    name: str
    train: Interactions | None
    valid: Interactions | None
    test: Interactions | None
    interactions: Interactions | None
    negatives: Negatives | None
    item_listed_at: np.ndarray | None = None  # (n_items,) listing times, when known
    item_sold_at: np.ndarray | None = None  # (n_items,) sale times (nan: unsold), when known

    @property
    def catalogue(self) -> Interactions:
        """Any one part: they all share user_ids / item_ids."""
        for part in (self.train, self.interactions, self.test, self.valid):
            if part is not None:
                return part
        raise DatasetError(f"{self.name} holds no interactions")


def _read_csv(path: Path, required: tuple[str, ...]) -> dict[str, list[str]]:
    """Columns of a CSV file by header name; every row must have every header field."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise DatasetError(f"{path}: the file is empty") from None
        missing = [name for name in required if name not in header]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")
        columns: list[list[str]] = [[] for _ in header]
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                if not row:
                    continue
                raise DatasetError(
                    f"{path}, line {line}: {len(row)} fields, the header has {len(header)}"
                )
            for column, value in zip(columns, row, strict=True):
                column.append(value)
    return dict(zip(header, columns, strict=True))


def _floats(path: Path, name: str, values: list[str]) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        for line, value in enumerate(values, start=2):
            try:
                float(value)
            except ValueError:
                raise DatasetError(
                    f"{path}, line {line}: {name} {value!r} is not a number"
                ) from None
        raise


class _Index:
    """External id -> dense index, growing in order of first appearance."""

    def __init__(self) -> None:
        self.position: dict[str, int] = {}

    def add(self, keys: Iterable[str]) -> np.ndarray:
        position = self.position
        return np.fromiter(
            (position.setdefault(key, len(position)) for key in keys), dtype=np.int64
        )

    @property
    def ids(self) -> list[str]:
        return list(self.position)


def _item_attributes(directory: Path, items: _Index) -> tuple[sp.csr_matrix, list[str]] | None:
    """items.csv (categorical columns, '|' separates several values) or item_attributes.json."""
    rows: list[int] = []
    names: dict[str, int] = {}
    columns: list[int] = []
    path = directory / "items.csv"
    if path.exists():
        table = _read_csv(path, ("item_id",))
        item_rows = items.add(table["item_id"])
        for column, values in table.items():
            if column in _ITEM_SKIP:
                continue
            for row, value in zip(item_rows, values, strict=True):
                for part in filter(None, (v.strip() for v in value.split("|"))):
                    rows.append(int(row))
                    columns.append(names.setdefault(f"{column}={part}", len(names)))
    path = directory / "item_attributes.json"
    if path.exists():
        try:
            mapping = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc})") from None
        keys = list(mapping)
        for row, key in zip(items.add(keys), keys, strict=True):
            for attribute in mapping[key]:
                rows.append(int(row))
                columns.append(names.setdefault(f"attribute={attribute}", len(names)))
    if not names:
        return None
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, columns)),
        shape=(len(items.position), len(names)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, list(names)


def load_benchmark(directory: str | Path) -> BenchmarkData:
    """Read a benchmark directory; raises DatasetError naming the file and line on bad input."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"{directory} is not a directory")
    users, items = _Index(), _Index()
    raw: dict[str, dict] = {}
    for part in INTERACTION_FILES:
        path = directory / f"{part}.csv"
        if not path.exists():
            continue
        table = _read_csv(path, ("user_id", "item_id"))
        raw[part] = {
            "users": users.add(table["user_id"]),
            "items": items.add(table["item_id"]),
            "timestamps": _floats(path, "timestamp", table["timestamp"])
            if "timestamp" in table
            else None,
            "ratings": _floats(path, "rating", table["rating"]) if "rating" in table else None,
            "weights": _floats(path, "weight", table["weight"]) if "weight" in table else None,
            "kind_labels": table.get("kind"),
        }
    if "train" not in raw and "interactions" not in raw:
        raise DatasetError(f"{directory} has neither train.csv nor interactions.csv")
    negatives_path = directory / "negatives.csv"
    negative_pairs = None
    if negatives_path.exists():
        table = _read_csv(negatives_path, ("user_id", "item_id"))
        unknown = [u for u in dict.fromkeys(table["user_id"]) if u not in users.position]
        if unknown:
            raise DatasetError(
                f"{negatives_path}: user {unknown[0]!r} has negatives but no interactions"
            )
        negative_pairs = (users.add(table["user_id"]), items.add(table["item_id"]))
    attributes = _item_attributes(directory, items)

    # Attributes were read last, so their matrix already spans every item.
    item_attributes, attribute_names = attributes if attributes is not None else (None, None)
    user_ids, item_ids = users.ids, items.ids

    labelled = [p for p in raw.values() if p["kind_labels"] is not None]
    if labelled and len(labelled) != len(raw):
        raise DatasetError(f"{directory}: some interaction files have a kind column, some not")
    kind_names = sorted({k for p in labelled for k in p["kind_labels"]}) if labelled else None

    def build(part: str) -> Interactions | None:
        if part not in raw:
            return None
        fields = dict(raw[part])
        labels = fields.pop("kind_labels")
        codes = None
        if labels is not None:
            code_of = {name: code for code, name in enumerate(kind_names)}
            codes = np.asarray([code_of[k] for k in labels], dtype=np.int16)
        return Interactions(
            user_ids=user_ids,
            item_ids=item_ids,
            item_attributes=item_attributes,
            attribute_names=attribute_names,
            kinds=codes,
            kind_names=kind_names,
            **fields,
        )

    return BenchmarkData(
        name=directory.name,
        train=build("train"),
        valid=build("valid"),
        test=build("test"),
        interactions=build("interactions"),
        negatives=Negatives.from_pairs(*negative_pairs) if negative_pairs else None,
    )

"""Names for artists and collectors, and titles for works."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from .styles import Style

T = TypeVar("T")

# fmt: off
FIRST_NAMES = (
    "Ada", "Bruno", "Clara", "Dario", "Elif", "Farah", "Goran", "Hana", "Ines", "Jonas",
    "Kaia", "Luca", "Mira", "Nils", "Odile", "Pavel", "Quinn", "Rosa", "Sami", "Tove",
    "Ugo", "Vera", "Wim", "Xenia", "Yusuf", "Zofia", "Anouk", "Basil", "Cleo", "Emil",
)
SURNAMES = (
    "Almeida", "Berger", "Castell", "Duval", "Eriksen", "Ferrante", "Grau", "Halloran",
    "Ibarra", "Janssen", "Kovac", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
    "Quaresma", "Rossi", "Sato", "Thorne", "Urquhart", "Valdes", "Weiss", "Yilmaz", "Zeller",
    "Abbott", "Brandt", "Conti", "Dahl", "Esposito",
)
TITLE_ADJECTIVES = (
    "Quiet", "Late", "Distant", "Folded", "Open", "Broken", "Still", "Slow", "Hidden",
    "Bright", "Low", "Small", "Northern", "Lost", "Warm", "Restless", "Second", "Pale",
)
TITLE_NOUNS = (
    "Harbour", "Garden", "Field", "Window", "Orbit", "Tide", "Signal", "Meadow", "Ridge",
    "Echo", "Threshold", "Season", "Horizon", "Room", "Passage", "Weather", "Island", "Choir",
)
# fmt: on


def _pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One of `options`, uniformly (one rng.integers draw)."""
    return options[int(rng.integers(len(options)))]


def _unique_names(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct 'First Surname' names (a roman numeral is added past 900)."""
    pairs = [(f, s) for f in FIRST_NAMES for s in SURNAMES]
    order = rng.permutation(len(pairs))
    names = []
    for n in range(count):
        first, last = pairs[order[n % len(pairs)]]
        suffix = "" if n < len(pairs) else f" {'I' * (n // len(pairs) + 1)}"
        names.append(f"{first} {last}{suffix}")
    return names


def _title(rng: np.random.Generator, style: Style) -> str:
    adjective = _pick(rng, TITLE_ADJECTIVES)
    noun = _pick(rng, TITLE_NOUNS)
    colour = _pick(rng, style.colour_words)
    number = int(rng.integers(1, 20))
    pattern = int(rng.integers(5))
    if pattern == 0:
        return f"{adjective} {noun}"
    if pattern == 1:
        return f"{noun} in {colour}"
    if pattern == 2:
        return f"Study for {adjective} {noun} No. {number}"
    if pattern == 3:
        return f"Untitled ({colour} {number})"
    return f"{colour} {noun}"

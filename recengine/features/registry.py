"""Name -> feature extractor class registry (mirrors the model registry)."""

from __future__ import annotations

from typing import Any

_EXTRACTORS: dict[str, type] = {}


def register_extractor(cls: type) -> type:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if not getattr(cls, "name", ""):
        raise ValueError(f"{cls.__name__} has no name")
    _EXTRACTORS[cls.name] = cls
    return cls


def create_extractor(name: str, **kwargs: Any):
    """A new extractor; unknown name -> ValueError listing the available ones."""
    try:
        cls = _EXTRACTORS[name]
    except KeyError:
        raise ValueError(
            f"unknown extractor {name!r}; available: {', '.join(list_extractors())}"
        ) from None
    return cls(**kwargs)


def list_extractors() -> list[str]:
    return sorted(_EXTRACTORS)

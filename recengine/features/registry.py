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


def register_extractor_factory(name: str, factory) -> None:
    """Register a callable that builds an extractor (one per CNN backbone)."""
    _EXTRACTORS[name] = factory


def create_extractor(name: str, **kwargs: Any):
    """A new extractor; unknown name -> ValueError listing the available ones."""
    try:
        cls = _EXTRACTORS[name]
    except KeyError:
        raise ValueError(
            f"unknown extractor {name!r}; available: {', '.join(list_extractors())}"
        ) from None
    return cls(**kwargs)


def list_extractors(include_tests: bool = False) -> list[str]:
    """Extractor names; timm's tiny test backbones only when asked for."""
    return sorted(n for n in _EXTRACTORS if include_tests or not n.startswith("test_"))


def extractor_label(name: str) -> str:
    """What a person is shown for an extractor: "efficientnet_lite0 (ImageNet)" for one
    with installed pretrained weights, else its name."""
    return getattr(_EXTRACTORS.get(name), "label", name)


def pretrained_extractors() -> list[str]:
    """Extractors that come with pretrained weights, ready without a weights choice."""
    return sorted(n for n, made in _EXTRACTORS.items() if getattr(made, "pretrained", False))

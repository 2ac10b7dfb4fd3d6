"""Image feature extractors; importing this package registers every extractor."""

from . import attractiveness, cnn, handcrafted  # noqa: F401  (registration)
from .handcrafted import HandcraftedExtractor, colour_histogram, lbp_histogram
from .registry import (
    create_extractor,
    extractor_label,
    list_extractors,
    pretrained_extractors,
    register_extractor,
)

__all__ = [
    "HandcraftedExtractor",
    "colour_histogram",
    "create_extractor",
    "extractor_label",
    "lbp_histogram",
    "list_extractors",
    "pretrained_extractors",
    "register_extractor",
]

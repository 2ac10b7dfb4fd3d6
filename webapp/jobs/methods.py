"""What can be trained: the engine's registries, seen from the site.

A model registered in recengine appears here, in the training form and on the
collector page, with no change to this file.
"""

from webapp.jobs.models import TrainingJob

# Trained by `make demo` and the "train defaults" button. Reference lines (models whose
# registry entry has a `reference`, e.g. the oracle) join when the data has what they read.
DEFAULT_METHODS = ("popularity", "visrank", "curatornet", "random")
DEFAULT_EXTRACTOR = "handcrafted"
# The visual methods once more on a pretrained CNN's features (weights from an installed
# package, converted on first use), so the demo shows both and the evaluation says which
# the temporal protocol ranks higher.
PRETRAINED_FEATURES = "efficientnet_lite0_imagenet"
DEFAULT_ON_PRETRAINED = ("visrank", "curatornet")
# Data only the demo gallery has: a reference line that reads it is trained only there.
HIDDEN_TASTES = ("user_latent", "item_latent")


def trainable_models() -> list[str]:
    from recengine import list_models

    return list(list_models())


def extractors() -> list[str]:
    from recengine import list_extractors

    return list(list_extractors())


def extractor_choices() -> list[tuple[str, str]]:
    """(name, what a person is shown): "efficientnet_lite0 (ImageNet)" for pretrained."""
    from recengine.features import extractor_label

    return [(name, extractor_label(name)) for name in extractors()]


def method_reference(method: str) -> str:
    """What a reference line is, in words ("reference: the generator's hidden tastes"), or
    "" for a method (and for a name the registry does not know)."""
    from recengine import model_info

    try:
        return str(model_info(method).get("reference") or "")
    except (KeyError, ValueError):
        return ""


def method_references() -> dict[str, str]:
    """{model name: its reference label} of every registered reference line."""
    return {m: label for m in trainable_models() if (label := method_reference(m))}


def methods_first(methods: list[str]) -> list[str]:
    """The methods in their order, then the reference lines: a default or a first choice
    is never a reference."""
    references = method_references()
    return [m for m in methods if m not in references] + [m for m in methods if m in references]


def default_methods() -> list[str]:
    from webapp.catalogue.datasets import has_hidden_tastes

    methods = [m for m in DEFAULT_METHODS if m in trainable_models()]
    for reference in method_references():
        reads_tastes = set(method_needs(reference)) & set(HIDDEN_TASTES)
        if reference not in methods and (not reads_tastes or has_hidden_tastes()):
            methods.append(reference)
    return methods


def default_trainings() -> list[tuple[str, dict]]:
    """(method, params) of every default training: the default methods with their own
    defaults, then the visual ones on the pretrained features when that extractor exists."""
    from recengine.features import pretrained_extractors

    trainings = [(method, {}) for method in default_methods()]
    if PRETRAINED_FEATURES in pretrained_extractors():
        trainings += [
            (method, {"features": PRETRAINED_FEATURES})
            for method in DEFAULT_ON_PRETRAINED
            if method in trainable_models()
        ]
    return trainings


def validate_method(*, kind: str, method: str) -> None:
    from webapp.jobs.services import JobError

    if kind == TrainingJob.Kind.TRAIN:
        choices = trainable_models()
    else:  # timm's tiny test backbones are valid, only kept out of the menus
        from recengine import list_extractors

        choices = list_extractors(include_tests=True)
    if kind not in TrainingJob.Kind.values:
        raise JobError(f"unknown job kind {kind!r}")
    if method not in choices:
        raise JobError(f"unknown method {method!r}; choose one of: {', '.join(choices)}")


def method_defaults(*, kind: str, method: str) -> dict:
    """Default hyperparameters of a model, plus the site's own knobs for it."""
    if kind != TrainingJob.Kind.TRAIN:
        from recengine.features.backbones import known_backbones

        if method in known_backbones():
            return {"weights": "", "image_size": None, "l2": False, "pca_dim": None}
        return {"l2": False, "pca_dim": None}
    from recengine import model_info

    info = model_info(method)
    params = dict(info["defaults"])
    if "item_features" in info["needs"]:
        params.setdefault("features", DEFAULT_EXTRACTOR)
        params.setdefault("features_weights", "")
        params.setdefault("features_image_size", None)
        params.setdefault("features_l2", False)
        params.setdefault("features_pca", None)
    return params


def method_description(method: str) -> str:
    from recengine import model_info

    return model_info(method)["description"]


def method_needs(method: str) -> tuple[str, ...]:
    from recengine import model_info

    return tuple(model_info(method)["needs"])

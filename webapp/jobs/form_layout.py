"""How the training form is laid out: which group each hyperparameter belongs to, what it
means, and which fields only matter for some values of another (the weights of a feature
CNN, say, mean nothing for handcrafted features).

The names are the engine's own hyperparameter names; a name not listed here still gets a
field (in "Model", with its default as help), so a new model needs no change here.
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURES_GROUP = "Features and backbone"
MODEL_GROUP = "Model"
SAMPLING_GROUP = "Sampling"
TRAINING_GROUP = "Training loop"
VALIDATION_GROUP = "Validation and early stopping"

# (title, what the group is about), in the order the form shows them.
GROUPS: tuple[tuple[str, str], ...] = (
    (FEATURES_GROUP, "What a work looks like to the model."),
    (MODEL_GROUP, "The model's own hyperparameters."),
    (SAMPLING_GROUP, "Which training examples (positive and negative works) each epoch draws."),
    (TRAINING_GROUP, "The optimisation loop."),
    (
        VALIDATION_GROUP,
        "Every job is tested on the temporal leave-last-out split (each collector's last "
        "events held out); these choose how the evaluation fit watches its validation "
        "events and when it stops.",
    ),
)

_GROUP_OF = {
    FEATURES_GROUP: (
        "features",
        "features_weights",
        "features_image_size",
        "features_l2",
        "features_pca",
        "fine_tune",
        "backbone",
        "weights",
        "trainable",
        "image_size",
        "use_features",
        "pca_dim",
    ),
    SAMPLING_GROUP: (
        "sampling",
        "guidelines",
        "clusters",
        "basket_seconds",
        "hard_negatives",
        "samples_per_epoch",
        "negatives",
    ),
    TRAINING_GROUP: (
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "optimizer",
        "device",
        "amp",
        "sparse_updates",
        "seed",
    ),
    VALIDATION_GROUP: ("valid_metric", "valid_users", "patience", "eval_every"),
}
GROUP_OF = {name: group for group, names in _GROUP_OF.items() for name in names}

HELP = {
    "features": "Handcrafted colour and texture descriptors, a CNN's embeddings, or an "
    "imported feature set.",
    "features_weights": "Weights of the feature CNN: a file in the weights folder, the hub, "
    "or random init.",
    "features_image_size": "Pixels per side fed to the feature CNN; empty: its own size.",
    "features_l2": "Scale each work's feature vector to unit length.",
    "features_pca": "Reduce the features to this many dimensions with PCA; empty: keep all.",
    "fine_tune": "Train the backbone's last stage on the images instead of fixed features "
    "(slow; a GPU helps).",
    "backbone": "The CNN that reads the images.",
    "weights": "The backbone's starting weights: a file in the weights folder, the hub, or "
    "random init.",
    "trainable": "Which backbone layers train: none, the last stage, or all.",
    "image_size": "Pixels per side fed to the backbone.",
    "use_features": "Give the model the works' visual features as well.",
    "sampling": "uniform: random negative works; guided: CuratorNet's sampling guidelines.",
    "guidelines": "Empty: all of the paper's guidelines in equal shares; or names, "
    "comma-separated.",
    "clusters": "Visual clusters the guidelines draw from (k-means on the features' PCA).",
    "basket_seconds": "Purchases this close in time form one basket (0: same timestamp).",
    "hard_negatives": "Guidelines 4 to 6: share of negatives from the anchor's visual cluster.",
    "samples_per_epoch": "Training triples per epoch; 0: as many as training interactions.",
    "negatives": "Negative works drawn per positive one.",
    "epochs": "Passes over the training data; early stopping may end sooner.",
    "batch_size": "Training examples per gradient step.",
    "lr": "Learning rate of the optimiser.",
    "weight_decay": "L2 penalty the optimiser applies to every weight.",
    "optimizer": "The gradient method.",
    "device": "auto: CUDA, then Apple MPS, else the CPU.",
    "amp": "Mixed precision (CUDA only).",
    "sparse_updates": "Update only the vectors a batch used (much faster on large "
    "catalogues; Adam's moments then decay lazily).",
    "seed": "The same seed on the same data gives the same model.",
    "valid_metric": "What early stopping watches on the validation events.",
    "valid_users": "Collectors sampled for each validation (fewer is faster).",
    "patience": "Validations without improvement before training stops.",
    "eval_every": "Epochs between validations.",
    "factors": "Length of the learned collector and work vectors.",
    "reg": "L2 regularisation of the learned vectors.",
    "dropout": "Share of units dropped during training.",
    "aggregation": "How a work's similarities to the collector's works combine: the closest "
    "one (max), the mean, or the mean of the top k.",
    "top_k": "How many of the most similar consumed works count.",
    "loss": "bpr: log-sigmoid of the score difference; hinge: a margin on it.",
    "margin": "The hinge loss's margin.",
    "neighbours": "Similar items (or users) kept per item (or user).",
    "shrink": "Shrinks the similarity of pairs with few interactions in common.",
}
# The same names mean something else in a feature extraction job, or in EASE.
EXTRACT_HELP = {
    "weights": HELP["weights"],
    "image_size": "Pixels per side fed to the CNN; empty: its own size.",
    "l2": HELP["features_l2"],
    "pca_dim": HELP["features_pca"],
}
METHOD_HELP = {("ease", "l2"): "L2 penalty on the item-item weights (EASE's lambda)."}


@dataclass(frozen=True)
class ShownWhen:
    """A field that only matters while ``field`` has one of ``values`` ("on" for a ticked
    box); ``reason`` says so in words."""

    field: str
    values: tuple[str, ...]
    reason: str


def cnn_extractors() -> tuple[list[str], list[str]]:
    """(extractors that take a weights choice, extractors that come with their weights)."""
    from recengine import list_extractors
    from recengine.features import pretrained_extractors
    from recengine.features.backbones import known_backbones

    backbones = set(known_backbones())
    with_weights = [n for n in list_extractors(include_tests=True) if n in backbones]
    return with_weights, list(pretrained_extractors())


def shown_when(name: str, defaults: dict) -> ShownWhen | None:
    """When the field ``name`` applies, given the other fields of the same form; None for
    a field that always does."""
    if name in ("features_weights", "features_image_size") and "features" in defaults:
        with_weights, pretrained = cnn_extractors()
        if name == "features_weights":
            return ShownWhen("features", tuple(with_weights), "only for CNN features")
        return ShownWhen("features", tuple(with_weights + pretrained), "only for CNN features")
    if name in ("backbone", "weights", "image_size") and "fine_tune" in defaults:
        return ShownWhen("fine_tune", ("on",), "only with fine-tuning")
    guided = ("guidelines", "clusters", "basket_seconds", "hard_negatives")
    if name in guided and "sampling" in defaults:
        return ShownWhen("sampling", ("guided",), "only with guided sampling")
    if name == "top_k" and "aggregation" in defaults:
        return ShownWhen("aggregation", ("topk_mean",), "only with topk_mean")
    if name == "margin" and "loss" in defaults:
        return ShownWhen("loss", ("hinge",), "only with the hinge loss")
    return None


def help_text(*, kind: str, method: str, name: str, default) -> str:
    """What the field means (where known) and its registry default."""
    if kind == "extract":
        meaning = EXTRACT_HELP.get(name, "")
    else:
        meaning = METHOD_HELP.get((method, name)) or HELP.get(name, "")
    shown = "empty" if default in (None, "") else str(default)
    if isinstance(default, bool):
        shown = "on" if default else "off"
    return f"{meaning} Default: {shown}.".strip()


def order_in_group(group: str, name: str) -> int:
    """A field's place in its group: the layout's order (a controlling field before the
    ones it shows), names the layout does not list after, as the registry orders them."""
    names = _GROUP_OF.get(group, ())
    return names.index(name) if name in names else len(names)


def group_of(*, kind: str, name: str) -> str:
    if kind == "extract":
        return FEATURES_GROUP
    return GROUP_OF.get(name, MODEL_GROUP)

"""The training form of a method, built from the engine registry's defaults.

Every default hyperparameter becomes a field of the type of its default value, so a new
model appears on the staff page with its own form and no template change.
"""

from __future__ import annotations

from typing import Any

from django import forms

from webapp.jobs.methods import method_defaults

# Fields whose values come from lists the site knows.
CHOICE_FIELDS = (
    "features",
    "features_weights",
    "weights",
    "backbone",
    "sampling",
    "optimizer",
    "loss",
    "aggregation",
    "trainable",
    "device",
)


def _choices(name: str, kind: str) -> list[tuple[str, str]] | None:
    from webapp.jobs.features import weights_files

    if name in ("features_weights", "weights"):
        files = [(f, f) for f in weights_files()]
        return [("", "random init (no weights file)"), *files, ("hub", "hub (needs network)")]
    if name == "features":
        from recengine import list_extractors
        from webapp.catalogue.models import FeatureSet

        imported = FeatureSet.objects.filter(params={}).values_list("name", flat=True)
        from recengine.features import extractor_label

        names = sorted(set(list_extractors()) | set(imported))
        return [(n, extractor_label(n)) for n in names]
    if name == "backbone":
        from recengine.features.backbones import BACKBONES

        return [(b, b) for b in BACKBONES]
    fixed = {
        "sampling": ("uniform", "guided"),
        "optimizer": ("adam", "adamw", "sgd", "adagrad"),
        "loss": ("bpr", "hinge"),
        "aggregation": ("max", "mean", "topk_mean"),
        "trainable": ("none", "last", "all"),
        "device": ("auto", "cpu", "cuda", "mps"),
    }
    if name in fixed:
        return [(v, v) for v in fixed[name]]
    return None


def _field(name: str, default: Any, kind: str) -> forms.Field:
    label = name.replace("_", " ")
    choices = _choices(name, kind) if name in CHOICE_FIELDS else None
    if choices is not None:
        values = [c[0] for c in choices]
        if default not in (None, "") and str(default) not in values:
            choices = [(str(default), str(default)), *choices]
        return forms.ChoiceField(
            choices=choices, required=False, initial=default or "", label=label
        )
    if isinstance(default, bool):
        return forms.BooleanField(required=False, initial=default, label=label)
    if isinstance(default, int):
        return forms.IntegerField(required=True, initial=default, label=label)
    if isinstance(default, float):
        return forms.FloatField(required=True, initial=default, label=label)
    if default is None:
        return forms.CharField(required=False, initial="", label=label, help_text="empty: not set")
    return forms.CharField(required=False, initial=default, label=label)


class MethodForm(forms.Form):
    """Fields = the method's default hyperparameters (and the site's knobs for it)."""

    def __init__(self, *args, kind: str, method: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind, self.method = kind, method
        self.defaults = method_defaults(kind=kind, method=method)
        for name, default in self.defaults.items():
            self.fields[name] = _field(name, default, kind)

    def params(self) -> dict[str, Any]:
        """The cleaned values, typed like the defaults ("" back to None where unset)."""
        params = {}
        for name, default in self.defaults.items():
            value = self.cleaned_data.get(name)
            if default is None:
                value = _parse_optional(value)
            elif isinstance(default, (int, float)) and not isinstance(default, bool):
                value = type(default)(value)
            params[name] = value
        return params


def _parse_optional(value: Any) -> Any:
    """An empty field means "not set"; numbers typed into an optional field stay numbers."""
    if value in (None, ""):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except (TypeError, ValueError):
            continue
    return value


def form_for(kind: str, method: str, data=None) -> MethodForm:
    return MethodForm(data, kind=kind, method=method, prefix=None)

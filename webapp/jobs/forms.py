"""The training form of a method, built from the engine registry's defaults.

Every default hyperparameter becomes a field of the type of its default value, so a new
model appears on the staff page with its own form and no template change. The fields are
grouped, explained and shown only where they apply (see form_layout); the page's script
hides what does not apply, and the form checks the same rules itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms

from webapp.jobs.form_layout import (
    GROUPS,
    ShownWhen,
    group_of,
    help_text,
    order_in_group,
    shown_when,
)
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


class JSONValueField(forms.JSONField):
    """A list or a dict written as JSON, of the same type as the default."""

    def __init__(self, default: list | dict, **kwargs) -> None:
        super().__init__(required=False, initial=default, widget=forms.TextInput, **kwargs)
        self.example = (
            json.dumps(default)
            if default
            else ("[1, 2]" if isinstance(default, list) else '{"a": 1}')
        )
        self.value_type = type(default)

    def clean(self, value):
        result = super().clean(value)
        result = self.value_type() if result is None else result
        if not isinstance(result, self.value_type):
            what = "a list" if self.value_type is list else "an object"
            raise forms.ValidationError(f"Enter {what} in JSON, e.g. {self.example}.")
        return result


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
    if isinstance(default, (list, dict)):  # e.g. layer sizes [128, 64], nested params {}
        return JSONValueField(default, label=label)
    if isinstance(default, bool):
        return forms.BooleanField(required=False, initial=default, label=label)
    if isinstance(default, int):
        return forms.IntegerField(required=True, initial=default, label=label)
    if isinstance(default, float):
        return forms.FloatField(required=True, initial=default, label=label)
    if default is None:
        return forms.CharField(required=False, initial="", label=label)
    return forms.CharField(required=False, initial=default, label=label)


@dataclass(frozen=True)
class FieldRow:
    field: forms.BoundField
    shown_when: ShownWhen | None
    controller_id: str  # the id of the field it depends on, for the page's script


@dataclass(frozen=True)
class Fieldset:
    title: str
    about: str
    rows: list[FieldRow]


class MethodForm(forms.Form):
    """Fields = the method's default hyperparameters (and the site's knobs for it)."""

    def __init__(self, *args, kind: str, method: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind, self.method = kind, method
        self.defaults = method_defaults(kind=kind, method=method)
        self.shown_when: dict[str, ShownWhen] = {}
        for name, default in self.defaults.items():
            field = _field(name, default, kind)
            field.help_text = help_text(kind=kind, method=method, name=name, default=default)
            self.fields[name] = field
            condition = shown_when(name, self.defaults)
            if condition is not None:
                self.shown_when[name] = condition

    def fieldsets(self) -> list[Fieldset]:
        """The fields by group, in the groups' order; empty groups left out."""
        rows: dict[str, list[FieldRow]] = {title: [] for title, _ in GROUPS}
        for name in self.fields:
            condition = self.shown_when.get(name)
            controller = self[condition.field].id_for_label if condition else ""
            rows[group_of(kind=self.kind, name=name)].append(
                FieldRow(self[name], condition, controller)
            )
        return [
            Fieldset(
                title, about, sorted(rows[title], key=lambda r: order_in_group(title, r.field.name))
            )
            for title, about in GROUPS
            if rows[title]
        ]

    def applies(self, name: str) -> bool:
        """Whether a field matters with the values the others were given."""
        condition = self.shown_when.get(name)
        if condition is None:
            return True
        value = self.cleaned_data.get(condition.field)
        value = ("on" if value else "") if isinstance(value, bool) else str(value or "")
        return value in condition.values

    def clean(self):
        """A field that does not apply takes its default: the page's script disables it,
        so it is not posted, or it keeps its default. A value typed into one anyway (no
        script) is refused, named, rather than silently dropped."""
        data = super().clean()
        for name, condition in self.shown_when.items():
            if self.applies(name):
                continue
            default = self.defaults[name]
            posted = self.add_prefix(name) in self.data
            given = data.get(name, default) if name not in self.errors else default
            self.errors.pop(name, None)
            data[name] = default
            if posted and _typed(given, default) != _typed(default, default):
                shown = "empty" if default in (None, "") else default
                self.add_error(
                    name,
                    f"{self.fields[name].label} is used {condition.reason}; "
                    f"leave it at its default ({shown}).",
                )
        return data

    def params(self) -> dict[str, Any]:
        """The cleaned values, typed like the defaults ("" back to None where unset)."""
        return {
            name: _typed(self.cleaned_data.get(name), default)
            for name, default in self.defaults.items()
        }


def _typed(value: Any, default: Any) -> Any:
    if default is None:
        return _parse_optional(value)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return type(default)(value)
    return value


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

"""A job's hyperparameters as rows a person can read: nested settings (a hybrid's
``collaborative_params``) one row per inner value, lists comma-separated, and each value
the method's registry default or not; and its seconds per epoch."""

import statistics
from dataclasses import dataclass

from django import template

register = template.Library()


@dataclass(frozen=True)
class ParamRow:
    name: str
    value: str
    depth: int  # 0 for a hyperparameter, 1 for a value inside a nested one
    default: bool  # the method's registry default


def _words(value) -> str:
    if value is None or value == "":
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_words(v) for v in value) if value else "none"
    return str(value)


def param_rows(params: dict, defaults: dict) -> list[ParamRow]:
    rows = []
    for name, value in (params or {}).items():
        is_default = name in defaults and defaults[name] == value
        if isinstance(value, dict):
            rows.append(ParamRow(name, "none" if not value else "", 0, is_default))
            rows += [ParamRow(k, _words(v), 1, is_default) for k, v in value.items()]
        else:
            rows.append(ParamRow(name, _words(value), 0, is_default))
    return rows


@register.filter
def hyperparameters(job) -> list[ParamRow]:
    """The job's params as rows, in the order the job recorded them."""
    from webapp.jobs.methods import method_defaults

    try:
        defaults = method_defaults(kind=job.kind, method=job.method)
    except (KeyError, ValueError):  # a method no longer registered: no defaults to mark
        defaults = {}
    return param_rows(job.params, defaults)


@register.filter
def epoch_seconds(history: list) -> dict | None:
    """Median and fastest seconds per epoch over the epochs of ``history`` that were
    timed, and how many; None when none was (models without epochs, older jobs)."""
    values = [float(h["seconds"]) for h in history or [] if h.get("seconds") is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "epochs": len(values)}

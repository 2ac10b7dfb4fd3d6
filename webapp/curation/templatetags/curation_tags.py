from django import template

register = template.Library()


@register.filter
def metric(value):
    """Numbers to four decimals; anything else as it is."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return value


@register.filter
def get_metric(metrics: dict, name: str):
    value = (metrics or {}).get(name)
    return "—" if value is None else metric(value)

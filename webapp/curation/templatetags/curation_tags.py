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


@register.inclusion_tag("curation/_curve.html")
def curve(history: list, key: str, label: str, width: int = 320, height: int = 120):
    """A line plot (server-rendered SVG) of history[*][key] against the epoch."""
    points = [(h["epoch"], h[key]) for h in (history or []) if h.get(key) is not None]
    if not points:
        return {"empty": True, "label": label}
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad = 24

    def sx(x):
        return pad + (width - 2 * pad) * ((x - x0) / (x1 - x0) if x1 > x0 else 0.5)

    def sy(y):
        return height - pad - (height - 2 * pad) * ((y - y0) / (y1 - y0) if y1 > y0 else 0.5)

    return {
        "empty": False,
        "label": label,
        "width": width,
        "height": height,
        "polyline": " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points),
        "dots": [
            {"x": f"{sx(x):.1f}", "y": f"{sy(y):.1f}", "epoch": x, "value": f"{y:.4f}"}
            for x, y in points
        ],
        "first": f"{ys[0]:.4f}",
        "last": f"{ys[-1]:.4f}",
        "low": f"{y0:.4f}",
        "high": f"{y1:.4f}",
        "epochs": f"{x0}–{x1}",
        "pad": pad,
    }

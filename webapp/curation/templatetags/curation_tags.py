from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def request_key_field():
    """A one-time key for a form that creates something: two submits of one rendering
    (a double click) carry the same key, and the service makes one job for both."""
    import uuid

    return format_html('<input type="hidden" name="request_key" value="{}">', uuid.uuid4().hex)


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


@register.filter
def get_item(mapping: dict, key):
    return (mapping or {}).get(key)


_thumbnail_patterns: dict[str, str] = {}


def _thumbnail_url_pattern() -> str:
    """The thumbnail URL with {size} and {checksum} to fill in: reversed once per script
    prefix rather than three times per card (a grid page has dozens of cards)."""
    prefix = get_script_prefix()
    pattern = _thumbnail_patterns.get(prefix)
    if pattern is None:
        marker = "f" * 64
        url = reverse("curation:thumbnail", args=[999, marker])
        head, tail = url.rsplit(f"/999/{marker}", 1)
        pattern = head.replace("{", "{{").replace("}", "}}") + "/{size}/{checksum}" + tail
        _thumbnail_patterns[prefix] = pattern
    return pattern


_artwork_patterns: dict[str, str] = {}


def _artwork_url_pattern() -> str:
    """The work page URL with {pk} to fill in, reversed once per script prefix."""
    prefix = get_script_prefix()
    pattern = _artwork_patterns.get(prefix)
    if pattern is None:
        marker = 987654321
        url = reverse("curation:artwork-detail", args=[marker])
        head, tail = (
            part.replace("{", "{{").replace("}", "}}") for part in url.rsplit(str(marker), 1)
        )
        pattern = f"{head}{{pk}}{tail}"
        _artwork_patterns[prefix] = pattern
    return pattern


@register.simple_tag
def map_points(catalogue_map) -> str:
    """The works of a CatalogueMap as SVG: each a link to its page with a <title> tooltip,
    a frame in its colour and its 160 px thumbnail. Built here rather than in a template
    loop, which takes close to a second for the 3,000 works a map may draw."""
    thumbnails, pages = _thumbnail_url_pattern(), _artwork_url_pattern()
    frame, size = catalogue_map.frame, catalogue_map.thumb
    parts = []
    for point in catalogue_map.points:
        artwork = point.artwork
        classes = "point" + " bought" * point.bought + " recommended" * point.recommended
        tip = f"{artwork.title} by {artwork.artist.name} · {point.group}"
        tip += " · bought" * point.bought + " · recommended" * point.recommended
        image = ""
        if artwork.image:
            checksum = artwork.image_checksum or ""
            href = (
                thumbnails.format(size=160, checksum=checksum)
                if len(checksum) == 64
                else reverse("curation:artwork-image", args=[artwork.pk])
            )
            image = format_html(
                '<image href="{}" x="{}" y="{}" width="{}" height="{}" '
                'preserveAspectRatio="xMidYMid slice"/>',
                href,
                point.x,
                point.y,
                size,
                size,
            )
        parts.append(
            format_html(
                '<a href="{}" class="{}" data-artwork="{}"><title>{}</title><rect class="frame" '
                'x="{}" y="{}" width="{}" height="{}" fill="{}"/>{}</a>',
                pages.format(pk=artwork.pk),
                classes,
                artwork.pk,
                tip,
                point.frame_x,
                point.frame_y,
                frame,
                frame,
                point.colour,
                image,
            )
        )
    return mark_safe("\n".join(parts))


@register.simple_tag
def thumb(artwork, sizes: str = "(max-width: 600px) 45vw, 160px", size: int = 160, eager=False):
    """An <img> of the work from server-made WebP thumbnails in every size (srcset), with
    alt text; the original file when the image has no checksum to name thumbnails by."""
    from webapp.curation.services import THUMBNAIL_SIZES

    alt = f"{artwork.title} by {artwork.artist.name}"
    loading = "eager" if eager else "lazy"
    if not artwork.image:
        return format_html('<span class="noimage" role="img" aria-label="{}">No image</span>', alt)
    checksum = artwork.image_checksum or ""
    if len(checksum) != 64:
        return format_html(
            '<img src="{}" alt="{}" width="{}" height="{}" loading="{}">',
            reverse("curation:artwork-image", args=[artwork.pk]),
            alt,
            size,
            size,
            loading,
        )
    pattern = _thumbnail_url_pattern()
    urls = {s: pattern.format(size=s, checksum=checksum) for s in THUMBNAIL_SIZES}
    fallback = min((s for s in THUMBNAIL_SIZES if s >= size), default=max(THUMBNAIL_SIZES))
    return format_html(
        '<img src="{}" srcset="{}" sizes="{}" alt="{}" width="{}" height="{}" loading="{}" '
        'decoding="async">',
        urls[fallback],
        ", ".join(f"{urls[s]} {s}w" for s in THUMBNAIL_SIZES),
        sizes,
        alt,
        size,
        size,
        loading,
    )


@register.inclusion_tag("curation/_bars.html")
def bars(intervals: list, metric: str, width: int = 440):
    """Horizontal bars (server-rendered SVG) of each job's mean with its 95% interval."""
    row, left, right = 22, 150, 70
    plot = width - left - right
    top = max(
        [i.high if i.high is not None else i.mean for i in intervals if i.mean == i.mean] or [1.0]
    )
    top = top if top > 0 else 1.0

    def x(value):
        return left + plot * max(0.0, min(value, top)) / top

    bars = []
    for n, interval in enumerate(intervals):
        y = 8 + n * row
        has_ci = interval.low is not None and interval.low == interval.low
        bars.append(
            {
                "label": f"#{interval.job.pk} {interval.job.method}"[:22],
                "y": y,
                "text_y": y + 12,
                "mid_y": y + 8,
                "width": f"{x(interval.mean) - left:.1f}",
                "value": f"{interval.mean:.4f}",
                "value_x": f"{x(interval.high if has_ci else interval.mean) + 6:.1f}",
                "ci": (
                    {"x1": f"{x(interval.low):.1f}", "x2": f"{x(interval.high):.1f}"}
                    if has_ci
                    else None
                ),
                "title": (
                    f"job #{interval.job.pk} {interval.job.method}: {interval.mean:.4f}"
                    + (
                        f", 95% CI {interval.low:.4f} to {interval.high:.4f}, "
                        f"{interval.n} collectors"
                        if has_ci
                        else " (no per-collector values)"
                    )
                ),
            }
        )
    return {
        "metric": metric,
        "bars": bars,
        "width": width,
        "height": 16 + row * len(bars),
        "left": left,
        "axis_x": left + plot,
        "top": f"{top:.3g}",
        "empty": not bars,
    }


@register.filter
def pvalue(value):
    """A p-value as people read it: 3 significant digits, tiny ones as < 0.0001."""
    if value is None or value != value:
        return "—"
    return "< 0.0001" if value < 1e-4 else f"{value:.3g}"

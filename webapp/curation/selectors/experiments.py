"""The experiment page's charts: each arm's cumulative rate over time with its 95% Wilson
band, as SVG geometry (the page draws it server-side, like the training curves)."""

from __future__ import annotations

COLOURS = ("#1f6feb", "#d1495b", "#2a9d8f", "#e9a23b")
WIDTH, HEIGHT, PAD = 560, 200, 32


def rate_chart(stats, which: str) -> dict:
    """which: "clicked" (click-through) or "bought" (purchase rate)."""
    series = []
    top = 0.0
    for arm in stats.arms:
        points = [(label, getattr_rate(c, b, which)) for label, c, b in arm.series]
        if points:
            top = max(top, max(rate.interval[1] for _, rate in points))
        series.append((arm, points))
    n = max((len(p) for _, p in series), default=0)
    if n == 0 or top == 0:
        return {"empty": True}
    top = min(1.0, top * 1.1)

    def sx(i):
        return PAD + (WIDTH - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)

    def sy(v):
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v / top)

    drawn = []
    for colour, (arm, points) in zip(COLOURS * 4, series, strict=False):
        line = " ".join(f"{sx(i):.1f},{sy(r.value):.1f}" for i, (_, r) in enumerate(points))
        upper = [f"{sx(i):.1f},{sy(r.interval[1]):.1f}" for i, (_, r) in enumerate(points)]
        lower = [f"{sx(i):.1f},{sy(r.interval[0]):.1f}" for i, (_, r) in enumerate(points)]
        last = points[-1][1] if points else None
        drawn.append(
            {
                "label": arm.label,
                "colour": colour,
                "line": line,
                "band": " ".join(upper + lower[::-1]),
                "last": f"{last.value:.3f}" if last else "",
            }
        )
    labels = [label for label, _ in series[0][1]] if series and series[0][1] else []
    return {
        "empty": False,
        "width": WIDTH,
        "height": HEIGHT,
        "series": drawn,
        "top": f"{top:.3f}",
        "first_label": labels[0] if labels else "",
        "last_label": labels[-1] if labels else "",
        "x_end": WIDTH - PAD,
        "y_base": HEIGHT - PAD + 14,
    }


def getattr_rate(clicked, bought, which: str):
    return clicked if which == "clicked" else bought

"""Template filters and server-rendered SVG charts (no JavaScript plotting library, no network)."""
from __future__ import annotations

from typing import Any, Sequence

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from ovdiff_web.common.paths import hide_server_paths

register = template.Library()


@register.filter
def pct(value: Any, digits: int = 1) -> str:
    """0.4567 -> "45.7"; None -> "—" (IoU is undefined for a class absent from both maps)."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value) * 100:.{int(digits)}f}"
    except (TypeError, ValueError):
        return "—"


@register.filter
def eta(seconds: Any) -> str:
    if seconds is None:
        return ""
    s = int(round(float(seconds)))
    if s <= 0:
        return ""
    if s < 60:
        return f"ETA {s}s"
    if s < 3600:
        return f"ETA {s // 60}m {s % 60}s"
    return f"ETA {s // 3600}h {(s % 3600) // 60}m"


@register.filter
def duration(seconds: Any) -> str:
    """4000 -> "1h 6m 40s"; the run header's elapsed time (app.js formats the live value the same way)."""
    if seconds is None or seconds == "":
        return ""
    s = max(0, int(float(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    return f"{s // 3600}h {(s % 3600) // 60}m {s % 60}s"


@register.filter
def public(text: Any) -> str:
    """A stored message without the server's own folders (media, data dir) as absolute paths."""

    return hide_server_paths(str(text or ""))


@register.filter
def media_url(path: str) -> str:
    """URL of a MEDIA_ROOT-relative file served to signed-in users; "" when there is no file."""
    return reverse("ui:media", args=[path]) if path else ""


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None


def _iou_colour(value: float) -> str:
    """Red (0) -> amber -> green (1)."""
    v = max(0.0, min(1.0, value))
    r = int(220 - 170 * v)
    g = int(70 + 120 * v)
    return f"rgb({r},{g},70)"


@register.simple_tag
def iou_bar_chart(rows: Sequence[dict[str, Any]], width: int = 560) -> SafeString:
    """Horizontal bars of per-class IoU in the given row order; classes with undefined IoU are listed as n/a."""
    bar_h, gap, label_w = 16, 4, 150
    height = max(1, len(rows)) * (bar_h + gap) + 24
    plot_w = width - label_w - 50
    parts = [f'<svg class="chart" role="img" aria-label="per-class IoU bar chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for tick in (0, 25, 50, 75, 100):
        x = label_w + plot_w * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 18}" stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{height - 5}" text-anchor="middle" fill="#666">{tick}</text>')
    for i, row in enumerate(rows):
        y = i * (bar_h + gap) + 2
        name = escape(row["name"])
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{name}</text>')
        if row.get("iou") is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + bar_h - 4}" fill="#888">n/a</text>')
            continue
        w = plot_w * max(0.0, min(1.0, float(row["iou"])))
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{_iou_colour(row["iou"])}">'
                     f'<title>{name}: {float(row["iou"]) * 100:.1f}</title></rect>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}">{float(row["iou"]) * 100:.1f}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every user-provided string above went through escape()

"""The confusion matrix of a run, readable from 2 to 150+ classes.

Up to ``SVG_MAX`` classes it is a server-drawn SVG whose non-empty cells are links (works without JavaScript);
above that, a canvas drawn by ``confusion.js`` from the matrix JSON (an SVG of 20,000+ links is too heavy). Both get
cell values on hover/focus, row/column highlighting and a colour scale; the extra last column ("no dataset
label": pixels given to a vocabulary class the dataset does not have) has a header and working cell links.
"""
from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html, json_script
from django.utils.safestring import SafeString, mark_safe

from ovdiff_web.runs.legend import EXTRA_COLUMN_LABEL

register = template.Library()

SVG_MAX = 40
CELL_MIN, CELL_MAX = 16, 28  # pixels per cell: readable, and 40 classes still fit a page's width
CHAR_PX = 7  # a generous width of one character of the 11 px header font, to size the margins
_URL_GT, _URL_PRED = 987654321, 987654322  # placeholders the script swaps for a cell's indices


def cell_colour(share: float, diagonal: bool, extra: bool) -> str:
    """White (0 % of the row) -> saturated green (diagonal), orange (extra column) or blue (other confusions)."""
    s = max(0.0, min(1.0, share))
    shade = int(255 - 215 * s)
    if diagonal:
        return f"rgb({shade},255,{shade})"
    if extra:
        return f"rgb(255,{int(255 - 120 * s)},{shade})"
    return f"rgb({shade},{shade},255)"


def _scale() -> str:
    stops = "".join(f'<span style="background:{cell_colour(v / 4, False, False)}"></span>' for v in range(5))
    diag = "".join(f'<span style="background:{cell_colour(v / 4, True, False)}"></span>' for v in range(5))
    extra = "".join(f'<span style="background:{cell_colour(v / 4, False, True)}"></span>' for v in range(5))
    return ('<div class="cm-scale small" data-cm-scale aria-label="colour scale: share of the ground-truth row">'
            f'<span>0 %</span><span class="ramp">{diag}</span><span>100 % correct</span>'
            f'<span class="ramp">{stops}</span><span>100 % confused</span>'
            f'<span class="ramp">{extra}</span><span>100 % {EXTRA_COLUMN_LABEL}</span></div>')


def _svg(run: Any, names: list[str], matrix: list[list[int]]) -> str:
    n = len(names)
    cols = max(len(r) for r in matrix)
    cell = max(CELL_MIN, min(CELL_MAX, 640 // max(cols, 1)))
    col_names = names + [EXTRA_COLUMN_LABEL] * (cols - n)
    # room for the headers: row names to the left; column names, rotated 60 degrees, above and past the right edge
    longest_col = max((len(name) for name in col_names), default=0) * CHAR_PX
    margin = int(max(60, max((len(name) for name in names), default=0) * CHAR_PX + 8, longest_col * 0.87 + 12))
    right = int(longest_col * 0.5 + 8)
    width, height = margin + cols * cell + right, margin + n * cell + 4
    parts = [f'<svg class="chart cm-svg" role="group" aria-label="confusion matrix heatmap" data-cm-svg '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for i, name in enumerate(names):
        c = margin + i * cell + cell / 2
        parts.append(f'<text class="cm-row" data-row="{i}" x="{margin - 4}" y="{c + 4:.1f}" text-anchor="end">'
                     f'{escape(name)}</text>')
    for j, name in enumerate(col_names):
        c = margin + j * cell + cell / 2
        cls = "cm-col extra" if j >= n else "cm-col"
        parts.append(f'<text class="{cls}" data-col="{j}" transform="translate({c + 4:.1f},{margin - 4}) '
                     f'rotate(-60)">{escape(name)}</text>')
    for gt, row in enumerate(matrix):
        total = sum(int(v) for v in row) or 1
        for pred, value in enumerate(row):
            value = int(value)
            share = value / total
            x, y = margin + pred * cell, margin + gt * cell
            pred_name = col_names[pred]
            title = (f"ground truth {escape(names[gt])} → predicted {escape(pred_name)}: {value} px "
                     f"({share * 100:.1f}% of row)")
            colour = cell_colour(share, gt == pred, pred >= n)
            rect = (f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{colour}" data-gt="{gt}" '
                    f'data-pred="{pred}"><title>{title}</title></rect>')
            if value:
                href = reverse("ui:confusion_cell", args=[run.pk, gt, pred])
                parts.append(f'<a href="{href}" aria-label="{title}">{rect}</a>')
            else:
                parts.append(rect)
    parts.append("</svg>")
    return "".join(parts)


@register.simple_tag
def confusion_matrix(run: Any) -> SafeString:
    """The matrix, its scale and a live readout of the cell under the pointer or keyboard focus."""
    matrix = run.confusion or []
    names = list(run.class_names or [])
    if not names or len(matrix) != len(names):
        return format_html('<p class="muted">{}</p>', "No confusion matrix yet.")
    url = reverse("ui:confusion_cell", args=[run.pk, _URL_GT, _URL_PRED])
    readout = ('<p class="cm-readout small" data-cm-readout aria-live="polite">Point at or focus a cell to read '
               'its value.</p>')
    if len(names) <= SVG_MAX:
        body = _svg(run, names, matrix)
    else:
        data = json_script({"names": names, "extra": EXTRA_COLUMN_LABEL, "matrix": matrix}, f"cm-data-{run.pk}")
        body = (f'{data}<canvas class="cm-canvas" tabindex="0" role="img" data-cm-canvas="cm-data-{run.pk}" '
                f'aria-label="confusion matrix heatmap of {len(names)} classes: use the arrow keys to move, Enter '
                f'to open a cell"></canvas>')
    return mark_safe(  # names are escaped (SVG) or JSON-encoded by json_script; the URL comes from reverse()
        f'<div class="cm" data-cm data-cell-url="{url}" data-url-gt="{_URL_GT}" data-url-pred="{_URL_PRED}">'
        f'{_scale()}{readout}<div class="cm-wrap">{body}</div></div>')

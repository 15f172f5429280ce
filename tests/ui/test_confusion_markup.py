"""The confusion matrix's markup leaves room for every header: the SVG is as wide as its margins (longest row
name, rotated column names with "no dataset label") and cells need, and the stylesheet lets it keep that natural
size and scroll sideways inside its card instead of shrinking to a narrow column."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from ovdiff_web.core.templatetags.ovdiff_confusion import CELL_MIN, CHAR_PX, confusion_matrix
from ovdiff_web.runs.legend import EXTRA_COLUMN_LABEL

CSS = Path(__file__).resolve().parents[2] / "ovdiff_web" / "static" / "ovdiff" / "css" / "app.css"


def test_the_svg_is_wide_enough_for_its_headers(db: object) -> None:
    names = ["background", "brick", "a rather long class name"]
    run = SimpleNamespace(pk=1, class_names=names, confusion=[[5, 1, 0, 2], [0, 4, 1, 0], [1, 0, 6, 3]])
    html = str(confusion_matrix(run))
    width = float(re.search(r'data-cm-svg viewBox="0 0 (\d+) (\d+)" width="(\d+)"', html).group(3))
    longest_row, extra = max(len(n) for n in names) * CHAR_PX, len(EXTRA_COLUMN_LABEL) * CHAR_PX
    # the row names, 4 columns and the rotated "no dataset label" (which leans past the last column) all fit
    assert width >= longest_row + 4 * CELL_MIN + extra * 0.5
    x = [float(v) for v in re.findall(r'class="cm-col extra" data-col="3" transform="translate\(([\d.]+),', html)]
    assert x and x[0] + extra * 0.5 <= width  # the extra header's end is inside the drawing
    top = float(re.search(r'class="cm-col extra" data-col="3" transform="translate\([\d.]+,([\d.]+)\)', html).group(1))
    assert top >= extra * 0.85  # room above for the header rotated 60 degrees


def test_the_stylesheet_keeps_the_natural_size_and_scrolls_sideways() -> None:
    css = CSS.read_text(encoding="utf-8")
    assert re.search(r"svg\.chart\.cm-svg\s*\{\s*max-width:\s*none", css)
    assert re.search(r"\.cm-wrap\s*\{[^}]*overflow-x:\s*auto", css)

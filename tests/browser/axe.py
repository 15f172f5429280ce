"""axe-core (vendored in ovdiff_web/static/ovdiff/vendor/axe.min.js, npm ``axe-core``) run on the page in the
browser: serious and critical violations are failures, listed with the elements they concern."""
from __future__ import annotations

from typing import Any

AXE_URL = "/static/ovdiff/vendor/axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page: Any, base: str) -> list[str]:
    """Serious/critical axe violations of the page as it is now, one line per rule."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=base + AXE_URL)  # same-origin file: allowed by a 'self' script CSP
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                           ".map(v => ({id: v.id, impact: v.impact, help: v.help, "
                           "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in result if v["impact"] in BLOCKING]


def assert_accessible(page: Any, base: str, where: str) -> None:
    found = axe_violations(page, base)
    assert not found, f"{where}: " + "; ".join(found)

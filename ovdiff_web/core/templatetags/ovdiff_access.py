"""``{% object_access obj as acc %}``: what the signed-in user may do with ``obj`` (asked once per page from
``ovdiff_web.accounts.access``), so templates show edit and sharing controls only to those who may use them."""
from __future__ import annotations

from typing import Any

from django import template

from ovdiff_web.accounts import access
from ovdiff_web.accounts.sharing import describe

register = template.Library()


@register.simple_tag(takes_context=True)
def may_edit(context: Any, obj: Any) -> bool:
    """``{% may_edit run as editable %}``: the edit check alone, for a row of a list."""
    request = context.get("request")
    return access.can_edit(getattr(request, "user", None), obj)


@register.simple_tag(takes_context=True)
def object_access(context: Any, obj: Any) -> dict[str, Any]:
    """``{"edit": bool, "share": bool, "sharing": {...} | None}``; ``sharing`` (current visibility, user and group
    names) only for those who may change it."""

    request = context.get("request")
    user = getattr(request, "user", None)
    target = access.shareable_of(obj)
    may_share = target is not None and target is obj and access.can_share(user, obj)
    return {"edit": access.can_edit(user, obj), "share": may_share,
            "sharing": describe(obj) if may_share else None}

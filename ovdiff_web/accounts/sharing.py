"""Change who may see and edit an object: the one function the API's ``share/`` action and the dashboard's
"Sharing" form both call. Who may share is decided by ``access.can_share``; every change is audited."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from ovdiff_web.accounts import access, audit
from ovdiff_web.accounts.models import Shareable, Visibility
from ovdiff_web.common.errors import ServiceError


class ShareRefused(PermissionDenied):
    """The user may not change this object's sharing (not its owner nor staff): 403."""


class ShareError(ServiceError, ValueError):
    """The request names an unknown visibility, user or group: 400 naming ``field``."""

    code = "share_refused"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def describe(obj: Shareable) -> dict[str, Any]:
    """``{"visibility", "users", "groups"}``: the current sharing, names sorted."""
    return {"visibility": obj.visibility,
            "users": sorted(obj.shared_users.values_list(get_user_model().USERNAME_FIELD, flat=True)),
            "groups": sorted(obj.shared_groups.values_list("name", flat=True))}


def parse_names(text: str) -> list[str]:
    """User or group names typed as one line: separated by commas or whitespace, duplicates dropped."""
    return list(dict.fromkeys(n for n in text.replace(",", " ").split() if n))


def _resolve(names: list[str], queryset: Any, field: str, slug: str, what: str) -> list[Any]:
    found = {getattr(o, slug): o for o in queryset.filter(**{f"{slug}__in": names})}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ShareError(f"no such {what}: {', '.join(unknown)[:200]}", field)
    return [found[n] for n in names]


def share(user: Any, obj: Shareable, *, visibility: str | None = None, usernames: list[str] | None = None,
          groupnames: list[str] | None = None) -> dict[str, Any]:
    """Set ``obj``'s visibility and/or replace the users and groups it is shared with (``None`` keeps a part as
    it is); returns the new sharing (``describe``). Nothing changes unless every name is known."""
    if not access.can_share(user, obj):
        raise ShareRefused("only the owner (or staff) may change sharing")
    if visibility is not None and visibility not in Visibility.values:
        raise ShareError(f"must be one of {', '.join(Visibility.values)}", "visibility")
    User = get_user_model()
    users = None if usernames is None else _resolve(usernames, User.objects.filter(is_active=True), "users",
                                                    User.USERNAME_FIELD, "user")
    groups = None if groupnames is None else _resolve(groupnames, Group.objects.all(), "groups", "name", "group")
    before = describe(obj)
    access.share(obj, visibility=visibility, users=users, groups=groups)
    after = describe(obj)
    changes = {k: [v, after[k]] for k, v in before.items() if after[k] != v}
    if changes:
        audit.record(user, obj, "share", changes)
    return after

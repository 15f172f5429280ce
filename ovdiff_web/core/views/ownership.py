"""Who may change an object from the dashboard's new actions (rename, delete, support-set choice, re-run).

Its owner and staff may; everyone else gets 403. Kept in one place so the access module of issue #18, once on
main, replaces this in one edit."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied


def owner_of(obj: Any) -> Any:
    """The user who owns ``obj`` (vocabulary owner, dataset or run creator; a class follows its vocabulary)."""
    for attr in ("owner", "created_by"):
        if hasattr(obj, attr):
            return getattr(obj, attr)
    if hasattr(obj, "vocabulary"):
        return owner_of(obj.vocabulary)
    return None


def check_edit(user: Any, obj: Any) -> None:
    """PermissionDenied unless ``user`` owns ``obj`` or is staff (an object without owner: staff only)."""
    owner = owner_of(obj)
    if getattr(user, "is_staff", False) or (owner is not None and owner.pk == getattr(user, "pk", None)):
        return
    raise PermissionDenied(f"only the owner of this {type(obj).__name__.lower()} (or an admin) may change it")

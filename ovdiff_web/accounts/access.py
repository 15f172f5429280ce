"""Who may read or change what: the ONE place the API and the dashboard ask.

Objects with an owner (``Shareable``: vocabularies, datasets, runs) are readable by their owner, by the users and
groups they are shared with, by every signed-in user when public, and by staff; editable by the owner, those shared
with, and staff. Child rows (classes, stages, image results) follow their parent. Content-addressed artifacts
(support sets, their images and banks) generated from a class text alone are shared by construction and readable by
every signed-in user; a set built from someone's uploads or curated review (``SupportSet.restricted``) is readable
only by those who may read a class or run that used it, so it follows that class's or run's sharing.

Reads outside the scope are 404 (the object's existence is not revealed); writes on a readable object the user may
not change are 403.
"""
from __future__ import annotations

from typing import Any, TypeVar

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from ovdiff_web.accounts.models import Shareable, Visibility

M = TypeVar("M", bound=Model)

# child model name -> lookup path to its Shareable parent
PARENT_PATH = {"VocabularyClass": "vocabulary", "RunStage": "run", "RunShard": "run", "ImageResult": "run"}
# artifact model name -> lookup path to its SupportSet ("" for the set itself)
ARTIFACT_PATH = {"SupportSet": "", "SupportImage": "support_set", "PrototypeBank": "support_set"}


def _shareable_q(model: type[Shareable], user: Any, *, write: bool) -> Q:
    owner = Q(**{model.OWNER_FIELD: user})
    shared = Q(shared_users=user) | Q(shared_groups__in=user.groups.all())
    shared &= Q(visibility__in=(Visibility.SHARED, Visibility.PUBLIC))
    q = owner | shared
    if not write:
        q |= Q(visibility=Visibility.PUBLIC)
    return q


def is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_staff", False) and user.is_active)


def scope(queryset: QuerySet[M], user: Any, *, write: bool = False) -> QuerySet[M]:
    """``queryset`` narrowed to the rows ``user`` may read (or change, with ``write=True``)."""
    model = queryset.model
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if is_staff(user):
        return queryset
    if issubclass(model, Shareable):
        allowed = model.objects.filter(_shareable_q(model, user, write=write)).values("pk")
        return queryset.filter(pk__in=allowed)
    parent_path = PARENT_PATH.get(model.__name__)
    if parent_path is not None:
        parent = model._meta.get_field(parent_path).related_model
        allowed = parent.objects.filter(_shareable_q(parent, user, write=write)).values("pk")
        return queryset.filter(**{f"{parent_path}__in": allowed})
    if write:  # shared artifacts are written by workers only
        return queryset.none()
    artifact_path = ARTIFACT_PATH.get(model.__name__)
    if artifact_path is not None:
        lookup = f"{artifact_path}__in" if artifact_path else "pk__in"
        return queryset.filter(**{lookup: readable_support_sets(user)})
    return queryset


def readable_support_sets(user: Any) -> QuerySet[Any]:
    """Primary keys of the support sets ``user`` may read (signed in, not staff): every unrestricted set, and a
    restricted one through a class or run of it the user may read."""
    # Named, not imported: these models live in the rooms above this one (docs/ARCHITECTURE.md).
    Run, SupportSet, VocabularyClass = (apps.get_model("core", n) for n in ("Run", "SupportSet", "VocabularyClass"))  # noqa: N806
    classes = scope(VocabularyClass.objects.all(), user).values("pk")
    runs = scope(Run.objects.all(), user).values("pk")
    return SupportSet.objects.filter(Q(restricted=False) | Q(classes__in=classes) | Q(runs__in=runs)).values("pk")


def shareable_of(obj: Model) -> Shareable | None:
    """The object whose owner and visibility decide access to ``obj`` (itself, its parent, or None)."""
    if isinstance(obj, Shareable):
        return obj
    parent_path = PARENT_PATH.get(type(obj).__name__)
    return getattr(obj, parent_path) if parent_path else None


def can_read(user: Any, obj: Model) -> bool:
    return scope(type(obj).objects.filter(pk=obj.pk), user).exists()


def can_edit(user: Any, obj: Model) -> bool:
    return scope(type(obj).objects.filter(pk=obj.pk), user, write=True).exists()


def can_share(user: Any, obj: Shareable) -> bool:
    """Only the owner (and staff) change visibility and sharing; editors they share with may not re-share."""
    return is_staff(user) or (obj.owner_id_value is not None and obj.owner_id_value == getattr(user, "pk", None))


def check_edit(user: Any, obj: Model) -> None:
    """PermissionDenied unless ``user`` may change ``obj``."""
    if not can_edit(user, obj):
        raise PermissionDenied("you may read this but not change it: ask its owner to share it with you")


def get_readable(queryset: QuerySet[M], user: Any, **lookup: Any) -> M:
    """The object if ``user`` may read it, else Http404 (as if it did not exist)."""
    try:
        return scope(queryset, user).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(f"no such {queryset.model._meta.verbose_name}") from None


def get_editable(queryset: QuerySet[M], user: Any, **lookup: Any) -> M:
    """The object if ``user`` may change it; Http404 if they may not even read it, PermissionDenied if read-only."""
    obj = get_readable(queryset, user, **lookup)
    check_edit(user, obj)
    return obj


def share(obj: Shareable, *, visibility: str | None = None, users: list[Any] | None = None,
          groups: list[Any] | None = None) -> Shareable:
    """Set visibility and/or replace the users and groups ``obj`` is shared with (callers check ``can_share``)."""
    if visibility is not None:
        type(obj).objects.filter(pk=obj.pk).update(visibility=visibility)
        obj.visibility = visibility
    if users is not None:
        obj.shared_users.set(users)
    if groups is not None:
        obj.shared_groups.set(groups)
    return obj


class ObjectAccess:
    """DRF permission class: safe methods need read access, everything else edit access (object level).

    Querysets are narrowed with ``scope`` in the viewsets, so an object outside it is already a 404 here."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request: Any, view: Any, obj: Model) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return can_read(request.user, obj)
        if getattr(view, "read_only_actions", ()) and getattr(view, "action", None) in view.read_only_actions:
            return can_read(request.user, obj)
        if not can_edit(request.user, obj):
            raise PermissionDenied("you may read this but not change it: ask its owner to share it with you")
        return True

"""The rows of a history page: one per audit entry (newest first), saying what changed in words (a thing/stuff
flip, a rename, a new support-set version, going back to an older one, ...), who did it and when, with links to
the class, the support-set version and the runs that used that version (those the reader may see).

A flip is recorded twice (on the class and on its vocabulary, ``vocabularies.services.record_flip``); the
vocabulary's page shows it once, as the class's entry (which links to the class)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from django.urls import reverse

from ovdiff_web.accounts import access
from ovdiff_web.accounts.audit import AuditEntry
from ovdiff_web.support.curation_models import SupportCuration
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass

MAX_RUN_LINKS = 8  # per row; the rest is counted
SAME_EDIT = timedelta(seconds=5)  # a class's flip entry and its vocabulary's are written in one request
KIND_LABELS = {"flip": "thing/stuff flip", "rename": "rename", "prompt": "prompt", "support": "support version",
               "go_back": "go back", "create": "created", "delete": "deleted", "classes": "classes",
               "share": "sharing", "edit": "edit"}


@dataclass
class Link:
    text: str
    url: str


@dataclass
class Row:
    """One change: ``kind`` (flip, rename, prompt, support, go_back, create, delete, classes, share, edit) picks
    its badge; ``parts`` say what changed; ``about`` is the class it concerns (on a vocabulary's page)."""

    entry_id: int
    at: datetime
    who: str
    kind: str
    parts: list[str]
    about: Link | None = None
    links: list[Link] = field(default_factory=list)
    more_runs: int = 0
    from_version: int | None = None
    version_of: str = "class"

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


def who(entry: AuditEntry) -> str:
    """"user <name>" (the name is kept when the account is deleted), or "—" for a change with no signed-in user."""
    if not entry.username:
        return "—"
    return f"user {entry.username}" + ("" if entry.user_id else " (account deleted)")


def _kind(is_stuff: Any) -> str:
    return "stuff" if is_stuff else "thing"


def _version(number: Any) -> str:
    return "version 0 (as built)" if not number else f"version {number}"


def _quote(value: Any) -> str:
    return "(blank)" if value in (None, "") else f"“{value}”"


def class_url(pk: int) -> str:
    return reverse("ui:class_detail", args=[pk])


def support_version_url(class_pk: int, number: int) -> str:
    """The class page's row of that support-set version (``support/class_detail.html``: ``support-v<N>``)."""
    return f"{class_url(class_pk)}#support-v{int(number)}"


class _Context:
    """What the rows of one page link to, read once: the support versions' summaries and the runs (readable by
    the viewer) that used each version of each class."""

    def __init__(self, vocabulary: Vocabulary | None, classes: Sequence[VocabularyClass], user: Any) -> None:
        ids = [c.pk for c in classes]
        self.classes = {c.pk: c for c in classes}
        self.summaries = {(c.vocab_class_id, c.number): c.summary
                          for c in SupportCuration.objects.filter(vocab_class_id__in=ids).only(
                              "vocab_class_id", "number", "summary")}
        self.runs: dict[tuple[int, int], list[int]] = {}
        if vocabulary is None or not ids:
            return
        wanted = set(ids)
        runs = access.scope(vocabulary.runs.all(), user).only("id", "vocabulary_snapshot").order_by("-id")
        for run in runs:
            for entry in run.vocabulary_snapshot or []:
                if entry.get("class_id") in wanted:
                    key = (entry["class_id"], int(entry.get("support_version") or 0))
                    self.runs.setdefault(key, []).append(run.pk)


def _describe_class(entry: AuditEntry, cls: VocabularyClass, ctx: _Context) -> Row:
    changes = dict(entry.changes or {})
    row = Row(entry_id=entry.pk, at=entry.at, who=who(entry), kind="edit", parts=[],
              from_version=entry.from_version)
    if "support_version" in changes:
        old, new = changes.pop("support_version")
        new = int(new or 0)
        if entry.action == "support_version":
            row.kind = "go_back"
            verb = "went back to" if new < int(old or 0) else "switched to"
            row.parts.append(f"support set {verb} {_version(new)}, was {_version(old)}")
        else:
            row.kind = "support"
            summary = ctx.summaries.get((cls.pk, new), "")
            row.parts.append(f"new support-set {_version(new)}" + (f": {summary}" if summary else ""))
            if summary:
                changes = {}  # the summary says what the version changed
        row.links.append(Link(f"support {_version(new)}", support_version_url(cls.pk, new)))
        runs = ctx.runs.get((cls.pk, new), [])
        row.links += [Link(f"run #{pk}", reverse("ui:run_detail", args=[pk])) for pk in runs[:MAX_RUN_LINKS]]
        row.more_runs = max(0, len(runs) - MAX_RUN_LINKS)
    if "is_stuff" in changes:
        old, new = changes.pop("is_stuff")
        if bool(old) != bool(new):
            row.kind = "flip" if row.kind == "edit" else row.kind
            row.parts.append(f"label {_kind(old)} → {_kind(new)}")
        else:
            row.parts.append(f"label confirmed as {_kind(new)}")
    if "name" in changes:
        old, new = changes.pop("name")
        if entry.action == "create" or old is None:
            row.kind = "create"
            row.parts.append(f"class created as {_quote(new)}")
        elif new is None:
            row.kind = "delete"
            row.parts.append(f"class {_quote(old)} deleted")
        else:
            row.kind = "rename" if row.kind == "edit" else row.kind
            row.parts.append(f"renamed {_quote(old)} → {_quote(new)}")
    if "prompt" in changes:
        old, new = changes.pop("prompt")
        row.kind = "prompt" if row.kind == "edit" else row.kind
        row.parts.append(f"generator prompt {_quote(old)} → {_quote(new)}")
    if "user_support_dir" in changes:
        old, new = changes.pop("user_support_dir")
        row.kind = "support" if row.kind == "edit" else row.kind
        row.parts.append("own support images uploaded (in use)" if new else "generated support images in use again")
    row.parts += _generic(entry.action, changes)
    if not row.parts:
        row.parts.append(entry.action.replace("_", " "))
    return row


def _describe_vocabulary(entry: AuditEntry, vocab: Vocabulary) -> Row:
    changes = dict(entry.changes or {})
    row = Row(entry_id=entry.pk, at=entry.at, who=who(entry), kind="edit", parts=[],
              from_version=entry.from_version, version_of="vocabulary")
    for key in [k for k in changes if k.startswith("classes.") and k.endswith(".is_stuff")]:
        old, new = changes.pop(key)
        row.kind = "flip"
        row.parts.append(f"class “{key[len('classes.'):-len('.is_stuff')]}”: label {_kind(old)} → {_kind(new)}")
    if "classes" in changes:
        old, new = changes.pop("classes")
        added = [n for n in (new or []) if n not in (old or [])]
        removed = [n for n in (old or []) if n not in (new or [])]
        row.kind = "classes"
        if added:
            row.parts.append(f"added {len(added)} class{'es' if len(added) != 1 else ''}: "
                             f"{', '.join(added[:20])}{'…' if len(added) > 20 else ''}")
        if removed:
            row.parts.append(f"removed {len(removed)} class{'es' if len(removed) != 1 else ''}: "
                             f"{', '.join(removed[:20])}{'…' if len(removed) > 20 else ''}")
    if "name" in changes:
        old, new = changes.pop("name")
        if entry.action == "create" or old is None:
            row.kind = "create"
            row.parts.append(f"vocabulary created as {_quote(new)}")
        else:
            row.kind = "rename"
            row.parts.append(f"vocabulary renamed {_quote(old)} → {_quote(new)}")
    if entry.action == "share":
        row.kind = "share"
        for key in ("visibility", "users", "groups"):
            if key in changes:
                old, new = changes.pop(key)
                row.parts.append(f"sharing: {key} {_plain(old)} → {_plain(new)}")
    row.parts += _generic(entry.action, changes)
    if not row.parts:
        row.parts.append(entry.action.replace("_", " "))
    return row


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "nobody"
    return str(value)


def _generic(action: str, changes: dict[str, Any]) -> list[str]:
    out = []
    for key, pair in changes.items():
        old, new = (list(pair) + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        out.append(f"{key.replace('_', ' ')} {_quote(_plain(old) if old is not None else None)} → "
                   f"{_quote(_plain(new) if new is not None else None)}")
    return out


def _entries(object_type: str, ids: Iterable[Any]) -> Any:
    return AuditEntry.objects.filter(object_type=object_type, object_id__in=[str(i) for i in ids])


def class_rows(cls: VocabularyClass, user: Any) -> list[Row]:
    """Everything that happened to one class, newest first."""
    ctx = _Context(cls.vocabulary, [cls], user)
    return [_describe_class(e, cls, ctx) for e in _entries("VocabularyClass", [cls.pk]).order_by("-at", "-id")]


def vocabulary_rows(vocab: Vocabulary, user: Any) -> list[Row]:
    """The vocabulary's own entries and those of its classes, newest first; each class's rows link to it."""
    classes = list(vocab.classes.all())
    ctx = _Context(vocab, classes, user)
    rows: list[Row] = []
    class_flips: list[tuple[str, datetime]] = []
    for entry in _entries("VocabularyClass", ctx.classes):
        cls = ctx.classes[int(entry.object_id)]
        row = _describe_class(entry, cls, ctx)
        row.about = Link(cls.name, class_url(cls.pk))
        rows.append(row)
        if row.kind == "flip":
            class_flips.append((entry.username, entry.at))
    for entry in _entries("Vocabulary", [vocab.pk]):
        if _is_flip_copy(entry, class_flips):
            continue
        rows.append(_describe_vocabulary(entry, vocab))
    rows.sort(key=lambda r: (r.at, r.entry_id), reverse=True)
    return rows


def _is_flip_copy(entry: AuditEntry, class_flips: list[tuple[str, datetime]]) -> bool:
    """The vocabulary's record of a flip whose class entry is on the page already."""
    keys = list((entry.changes or {}).keys())
    if not keys or not all(k.startswith("classes.") and k.endswith(".is_stuff") for k in keys):
        return False
    return any(name == entry.username and abs(at - entry.at) <= SAME_EDIT for name, at in class_flips)

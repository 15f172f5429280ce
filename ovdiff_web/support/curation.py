"""Curating a class's support set: exclude / include an image, choose its foreground mask, add images, go back
to an older version; and which support set a reviewer looks at.

Every edit appends a ``SupportCuration`` version under a lock on the class row, taken by a compare-and-swap on
the class's ``version`` (like label edits): of two concurrent editors of one class the second gets ``VersionConflict``
(409) instead of silently overwriting the first, and two edits without an expected version are serialised by the
lock so neither is lost. The class's ``version`` and its vocabulary's move with every edit, so runs made before are
marked stale (``run_report.runs_affected_by_many``). Building happens on the workers (``queue_rebuild``).
"""
from __future__ import annotations

from typing import Any, Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max

from ovdiff_web.accounts import audit
from ovdiff_web.support.curation_models import SupportCuration
from ovdiff_web.support.choice import generated_in_use
from ovdiff_web.support.images import store_user_support_images, support_sets_for
from ovdiff_web.support.models import SupportImage, SupportSet
from ovdiff_web.support.rebuild import queue_regenerate
from ovdiff_web.vocabularies.models import VocabularyClass
from ovdiff_web.vocabularies.services import VersionConflict
from ovdiff_web.common.errors import ServiceError

MAX_REASON = 300
AUTO = ""  # the proposer's rule (no choice recorded)
CANDIDATE = "candidate:"  # a run's vocabulary's choice (engine.support.curation.CANDIDATE: numpy stays unloaded)
PAINTED = "painted:"  # a mask a person painted in the mask editor (``support/editor``), by its content id


class CurationRefused(ServiceError, ValueError):
    """A curation edit that cannot apply (unknown image or mask, bad seed): a 400 naming ``field``."""

    code = "curation_refused"

    def __init__(self, message: str, field: str = "detail") -> None:
        super().__init__(message)
        self.field = field


def candidate_index(choice: str) -> int | None:
    """K of a "candidate:K" mask choice (a run's vocabulary chose it), else None."""
    k = choice[len(CANDIDATE):] if choice.startswith(CANDIDATE) else ""
    return int(k) if k.isdigit() else None


def describe_candidate(k: int) -> str:
    """Words for candidate ``k`` of the engine's ``user_candidates`` (the first proposed mask, its complement, the
    other masks), numbering the proposed masks from 0 as the class page does."""
    return "everything outside proposed mask 0" if k == 1 else f"proposed mask {max(k - 1, 0)}"


def current(cls: VocabularyClass) -> SupportCuration | None:
    """The version in use (None: the support set as built, nothing reviewed)."""
    if not cls.support_version:
        return None
    return cls.curations.filter(number=cls.support_version).first()


def versions(cls: VocabularyClass) -> list[SupportCuration]:
    """Every version of the class's curation, newest first, with who made it."""
    return list(cls.curations.select_related("created_by"))


def painted_choices(cls: VocabularyClass) -> dict[str, list[str]]:
    """image content id -> the edited masks any version of the class chose for it, oldest first."""
    out: dict[str, list[str]] = {}
    for version in sorted(cls.curations.all(), key=lambda v: v.number):
        for content_id, choice in (version.masks or {}).items():
            if choice.startswith(PAINTED) and choice not in out.setdefault(content_id, []):
                out[content_id].append(choice)
    return out


def _empty() -> dict[str, Any]:
    return {"excluded": {}, "masks": {}, "extra_seeds": [], "extra_dirs": []}


def _edit(cls: VocabularyClass, user: Any, expected_version: int | None, action: str, summary: str,
          change: Callable[[dict[str, Any]], dict[str, list[Any]]]) -> SupportCuration:
    """Append a version made by ``change`` (mutates the data, returns audit changes) under a row lock."""
    with transaction.atomic():
        locked = _take(cls, expected_version)
        base = current(locked)
        data = base.data() if base is not None else _empty()
        changes = change(data)
        number = (locked.curations.aggregate(m=Max("number"))["m"] or 0) + 1
        row = SupportCuration.objects.create(vocab_class=locked, number=number, summary=summary[:300],
                                             based_on=locked.support_version, created_by=_real(user), **data)
        VocabularyClass.objects.filter(pk=locked.pk).update(support_version=number)
        locked.vocabulary.bump_version()
        audit.record(user, locked, action, {"support_version": [locked.support_version, number], **changes},
                     from_version=locked.version - 1)
    cls.refresh_from_db()
    return row


append_version = _edit  # for the mask editor (``support/editor``): one more kind of edit, same lock and audit


def _take(cls: VocabularyClass, expected_version: int | None) -> VocabularyClass:
    """Move the class's version first thing in the transaction: the UPDATE takes the row lock (PostgreSQL) or
    the write lock (SQLite) before anything is read, so a concurrent edit waits and then sees this one; with
    ``expected_version`` it is a compare-and-swap (``VersionConflict`` when someone was first)."""
    query = VocabularyClass.objects.filter(pk=cls.pk)
    if expected_version is not None:
        query = query.filter(version=expected_version)
    if not query.update(version=F("version") + 1):
        raise VersionConflict(VocabularyClass.objects.values_list("version", flat=True).get(pk=cls.pk))
    return VocabularyClass.objects.select_for_update().select_related("vocabulary").get(pk=cls.pk)


def _real(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def support_image(cls: VocabularyClass, content_id: str) -> SupportImage:
    """A support image of this class's sets by its content id; ``CurationRefused`` when it is not one."""
    return _image(cls, content_id)


def _image(cls: VocabularyClass, content_id: str) -> SupportImage:
    """A support image of this class's sets by its content id; ``CurationRefused`` when it is not one."""
    content_id = str(content_id)
    image = None
    if len(content_id) == 32 and all(c in "0123456789abcdef" for c in content_id):  # never a NUL to the database
        image = SupportImage.objects.filter(support_set__in=support_sets_for(cls), content_id=content_id).first()
    if image is None:
        raise CurationRefused("no support image of this class has that id", "image")
    return image


def exclude(cls: VocabularyClass, content_id: str, reason: str, *, user: Any = None,
            expected_version: int | None = None) -> SupportCuration:
    """Leave one image out of the class's prototypes, saying why."""
    reason = " ".join(str(reason).replace("\x00", "").split())[:MAX_REASON]
    if not reason:
        raise CurationRefused("say why the image is excluded", "reason")
    image = _image(cls, content_id)

    def change(data: dict[str, Any]) -> dict[str, list[Any]]:
        old = data["excluded"].get(image.content_id)
        data["excluded"][image.content_id] = reason
        return {f"excluded:{image.content_id[:10]}": [old, reason]}

    return _edit(cls, user, expected_version, "support_exclude", f"excluded image {image.index}: {reason}", change)


def include(cls: VocabularyClass, content_id: str, *, user: Any = None,
            expected_version: int | None = None) -> SupportCuration:
    """Take an exclusion back."""
    image = _image(cls, content_id)

    def change(data: dict[str, Any]) -> dict[str, list[Any]]:
        old = data["excluded"].pop(image.content_id, None)
        return {f"excluded:{image.content_id[:10]}": [old, None]}

    return _edit(cls, user, expected_version, "support_include", f"included image {image.index} again", change)


def choose_mask(cls: VocabularyClass, content_id: str, choice: str, *, user: Any = None,
                expected_version: int | None = None) -> SupportCuration:
    """Foreground of one image: a proposed instance mask ("instance:J"), a candidate a run's vocabulary chose
    ("candidate:K", ``engine.masks.fgbg.user_candidates``), the attribution threshold
    ("attribution") or the proposer's rule again ("")."""
    image = _image(cls, content_id)
    choice = str(choice)
    if choice.startswith("instance:"):
        j = choice.split(":", 1)[1]
        if not j.isdigit() or int(j) >= len(image.instances or []):
            raise CurationRefused(f"image {image.index} has {len(image.instances or [])} proposed masks", "choice")
    elif choice == "attribution":
        if not image.attribution:
            raise CurationRefused(f"image {image.index} has no attribution map", "choice")
    elif choice.startswith(PAINTED):
        if choice not in painted_choices(cls).get(image.content_id, []):
            raise CurationRefused(f"image {image.index} has no edited mask {choice[len(PAINTED):]}", "choice")
    elif choice.startswith(CANDIDATE):  # a run's vocabulary chose it (masks.user_fg_rule="vocabulary"); kept
        k = candidate_index(choice)
        if not image.instances or k is None or k > len(image.instances):
            raise CurationRefused(f"image {image.index} has {len(image.instances or [])} proposed masks, no "
                                  f"candidate {choice[len(CANDIDATE):]}", "choice")
    elif choice != AUTO:
        raise CurationRefused('choice is "instance:J", "attribution", "painted:<mask id>" (an edited mask), '
                              '"candidate:K" (a run\'s choice) or "" (the proposer\'s rule)', "choice")

    def change(data: dict[str, Any]) -> dict[str, list[Any]]:
        old = data["masks"].get(image.content_id, AUTO)
        if choice == AUTO:
            data["masks"].pop(image.content_id, None)
        else:
            data["masks"][image.content_id] = choice
        return {f"mask:{image.content_id[:10]}": [old, choice]}

    label = {"attribution": "the attribution threshold", AUTO: "the proposer's rule"}.get(
        choice, "an edited mask" if choice.startswith(PAINTED) else
        describe_candidate(candidate_index(choice) or 0) if choice.startswith(CANDIDATE) else
        f"proposed mask {choice[9:]}")
    return _edit(cls, user, expected_version, "support_mask", f"image {image.index}: foreground from {label}", change)


def add_seed(cls: VocabularyClass, seed: int, *, user: Any = None,
             expected_version: int | None = None) -> SupportCuration:
    """Join the images of another generator seed to the class's set (decisions so far are kept)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise CurationRefused("seed must be an integer from 0 to 2147483647", "seed")
    if cls.user_support_dir:
        raise CurationRefused("this class uses uploaded images, which no seed changes: add more images instead",
                              "seed")

    def change(data: dict[str, Any]) -> dict[str, list[Any]]:
        if seed in data["extra_seeds"]:
            raise CurationRefused(f"seed {seed} was added already", "seed")
        old = list(data["extra_seeds"])
        data["extra_seeds"] = sorted(old + [seed])
        return {"extra_seeds": [old, data["extra_seeds"]]}

    return _edit(cls, user, expected_version, "support_add", f"added the images of seed {seed}", change)


def add_folder(cls: VocabularyClass, rel: str, n_images: int, *, user: Any = None,
               expected_version: int | None = None, summary: str = "") -> SupportCuration:
    """Join a folder of uploaded images (MEDIA_ROOT-relative) to the class's set next to the ones it has
    (``summary``: what the version says it added, default "added N uploaded images")."""
    def change(data: dict[str, Any]) -> dict[str, list[Any]]:
        old = list(data["extra_dirs"])
        data["extra_dirs"] = old + [rel]
        return {"extra_dirs": [old, data["extra_dirs"]]}

    return _edit(cls, user, expected_version, "support_add", summary or f"added {n_images} uploaded image"
                 f"{'s' if n_images != 1 else ''}", change)


def add_uploads(cls: VocabularyClass, files: Any, *, user: Any = None) -> SupportCuration:
    """Store uploaded images (each checked by the engine's loader) and join them to the class's set as a new
    version; ``engine.errors.BadInputError`` names the first unusable file and nothing is kept."""
    rel = store_user_support_images(cls, files)
    return add_folder(cls, rel, len(files), user=user)


def go_back(cls: VocabularyClass, number: int, *, user: Any = None,
            expected_version: int | None = None) -> VocabularyClass:
    """Use an earlier version again (0: the set as built); versions are never deleted, so this can be undone."""
    with transaction.atomic():
        locked = _take(cls, expected_version)
        if number != 0 and not locked.curations.filter(number=number).exists():
            raise CurationRefused(f"no version {number} of this class's support set", "number")
        VocabularyClass.objects.filter(pk=locked.pk).update(support_version=number)
        locked.vocabulary.bump_version()
        audit.record(user, locked, "support_version", {"support_version": [locked.support_version, number]},
                     from_version=locked.version - 1)
    cls.refresh_from_db()
    return cls


def note_built(class_id: int | None, number: int, support_key: str) -> None:
    """Remember which support set a version built to (a worker calls this; the class page then shows it)."""
    if class_id and number:
        SupportCuration.objects.filter(vocab_class_id=class_id, number=number).update(support_key=support_key)


def review_set(cls: VocabularyClass) -> SupportSet | None:
    """The support set a reviewer sees: the current version's once built, else the newest built version's, else
    the set the class uses as built (the generated set in use, or the newest set of its images)."""
    version = current(cls)
    if version is not None:
        built = [version] + [v for v in cls.curations.exclude(support_key="").order_by("-number") if v != version]
        for candidate in built:
            found = SupportSet.objects.filter(key=candidate.support_key).first() if candidate.support_key else None
            if found is not None:
                return found
    curated_keys = SupportCuration.objects.exclude(support_key="").values("support_key")
    sets = list(support_sets_for(cls).exclude(key__in=curated_keys))
    in_use = generated_in_use(cls, sets)
    for sset in sets:
        if sset.pk == in_use or (cls.user_support_dir and sset.source == SupportSet.Source.USER):
            return sset
    return sets[0] if sets else None


def is_built(cls: VocabularyClass, shown: SupportSet | None) -> bool:
    """True when ``shown`` is what the class's current version builds (False: a rebuild is pending)."""
    version = current(cls)
    if version is None:
        return shown is not None
    return shown is not None and version.support_key == shown.key


def review_images(cls: VocabularyClass, shown: SupportSet | None = None) -> list[dict[str, Any]]:
    """Each image of the review set with the current decisions (pending ones included) and its flags."""
    from engine.support.review import flag_text  # here: that module loads numpy and Pillow (web start-up stays light)

    shown = shown if shown is not None else review_set(cls)
    if shown is None:
        return []
    version = current(cls)
    data = version.data() if version is not None else _empty()
    painted = painted_choices(cls)
    out = []
    for image in shown.images.all():
        instances = list(image.instances or [])
        choices = [(AUTO, "proposer's rule")] + [(f"instance:{j}", f"proposed mask {j}") for j in range(len(instances))]
        if image.attribution:
            choices.append(("attribution", "attribution threshold"))
        edits = painted.get(image.content_id, [])
        choices += [(c, f"edited mask {n + 1}") for n, c in enumerate(edits)]
        out.append({"image": image, "cls": cls, "excluded": data["excluded"].get(image.content_id, ""),
                    "mask_choice": data["masks"].get(image.content_id, AUTO), "flags": list(image.flags or []),
                    "flag_texts": [(f, flag_text(f, image.measures)) for f in image.flags or []],
                    "instances": instances, "choices": choices})
    return out


def suspicious(vocabulary: Any) -> list[dict[str, Any]]:
    """Every support image of every class of ``vocabulary``, flagged ones first (a foreground that probably took
    the background first of all, then by their most severe flag and most flags), then the rest in class order:
    the vocabulary-wide review list."""
    from engine.support.review import flags_order

    items: list[dict[str, Any]] = []
    for cls in vocabulary.classes.all():
        items += review_images(cls)
    order = {id(item): n for n, item in enumerate(items)}
    return sorted(items, key=lambda item: (*flags_order(item["flags"]), order[id(item)]))


def queue_rebuild(cls: VocabularyClass, user: Any = None) -> str:
    """Queue building the class's current version on a worker with the profile and settings of the vocabulary's
    latest run (so that run's re-run finds it built), else the service's default profile; a cache hit when that
    review was built before."""
    latest = _latest_run(cls)
    if latest is None:
        return queue_regenerate(cls, settings.OVDIFF_PROFILE, {}, user=user)
    return queue_regenerate(cls, latest.profile, latest.settings or {}, user=user)


def _latest_run(cls: VocabularyClass) -> Any:
    # Read through the vocabulary's reverse relation: the runs room sits above this one (docs/ARCHITECTURE.md).
    return cls.vocabulary.runs.order_by("-created_at", "-id").first()


def rebuild_profile_source(cls: VocabularyClass) -> tuple[str, bool]:
    """(the profile ``queue_rebuild`` builds with, whether it is the vocabulary's latest run's: else the server's
    default), from one query."""
    latest = _latest_run(cls)
    return (latest.profile, True) if latest is not None else (settings.OVDIFF_PROFILE, False)


def rebuild_profile(cls: VocabularyClass) -> str:
    """The profile ``queue_rebuild`` builds with (shown next to the queued job)."""
    return rebuild_profile_source(cls)[0]


ACTIONS = ("exclude", "include", "mask", "add_seed", "go_back")


def apply(cls: VocabularyClass, action: str, data: Any, *, user: Any = None,
          expected_version: int | None = None) -> str:
    """One curation edit named by ``action`` with its fields from ``data`` (a form or JSON body); returns what
    changed, for a message. ``CurationRefused`` for an unknown action or a missing/bad field, ``VersionConflict``
    when ``expected_version`` is stale. API and dashboard both call this."""
    def field(name: str) -> str:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip() and name != "choice"):
            raise CurationRefused(f"{name} is required for {action}", name)
        return value if not isinstance(value, str) else value.strip()

    def number(name: str) -> int:
        value = field(name)
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
            raise CurationRefused(f"{name} must be a non-negative integer", name)
        return int(value)

    kwargs = {"user": user, "expected_version": expected_version}
    if action == "exclude":
        return exclude(cls, str(field("image")), str(field("reason")), **kwargs).summary
    if action == "include":
        return include(cls, str(field("image")), **kwargs).summary
    if action == "mask":
        return choose_mask(cls, str(field("image")), str(data.get("choice") or ""), **kwargs).summary
    if action == "add_seed":
        return add_seed(cls, number("seed"), **kwargs).summary
    if action == "go_back":
        target = number("number")
        go_back(cls, target, **kwargs)
        return f"version {target} in use" if target else "the support set as built is in use"
    raise CurationRefused(f"unknown action; one of {', '.join(ACTIONS)}", "action")


def parse_version(value: Any) -> int | None:
    """The client's ``expected_version`` (None when absent); ``CurationRefused`` when it is not a positive int."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())) \
            or int(value) < 1:
        raise CurationRefused("must be a positive integer (the version you loaded)", "expected_version")
    return int(value)

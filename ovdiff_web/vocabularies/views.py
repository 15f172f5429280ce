"""Vocabularies: create by pasting names, add / import classes, rename prompts, review thing/stuff labels."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engine.profiles import FEW_SHOT_PROFILES
from ovdiff_web.accounts import access, audit
from ovdiff_web.datasets.forms import ImportClassesForm  # the one page-level import upwards (.importlinter)
from ovdiff_web.vocabularies.forms import AddClassesForm, LabelForm, PromptForm, VocabularyForm
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass
from ovdiff_web.runs import report as run_report
from ovdiff_web.vocabularies import pages as vocab_pages
from ovdiff_web.vocabularies.prompts import generator_prompt, template_parts
from ovdiff_web.accounts.quotas import QuotaExceeded
from ovdiff_web.vocabularies.services import VersionConflict, add_classes, set_label
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.views import report_service_error, ui_login_required
from django.urls import reverse


@ui_login_required
@require_http_methods(["GET", "POST"])
def vocabulary_list(request: HttpRequest) -> HttpResponse:
    """All vocabularies; POST creates one from a name and pasted class names."""
    form = VocabularyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                vocab = Vocabulary.objects.create(name=data["name"], description=data["description"],
                                                  owner=request.user)
                audit.record(request.user, vocab, "create", {"name": [None, vocab.name]})
                created, _ = add_classes(vocab, data["class_names"], user=request.user, initial=True)
        except IntegrityError:
            form.add_error("name", f"a vocabulary named {data['name']!r} already exists")
        except QuotaExceeded as exc:
            form.add_error("class_names", str(exc))
        else:
            messages.success(request, f"Vocabulary “{vocab.name}” created with {len(created)} classes.")
            return redirect("ui:vocabulary_detail", pk=vocab.pk)
    vocabularies = access.scope(Vocabulary.objects.all(), request.user).annotate(n_classes=Count("classes", distinct=True),
                                               n_runs=Count("runs", distinct=True)).select_related("owner")
    return render(request, "ovdiff/vocabularies/list.html", {"form": form, "vocabularies": vocabularies},
                  status=400 if form.errors else 200)


def _detail_context(request: HttpRequest, vocab: Vocabulary, **forms: object) -> dict[str, object]:
    classes = list(vocab.classes.select_related("label_changed_by"))
    affected = run_report.runs_affected_by_many(classes)
    rows = [{"cls": cls, "affected": affected.get(cls.pk, [])} for cls in classes]
    latest = vocab.runs.order_by("-created_at", "-id").first()  # the profile its prompts were last used under
    profile = latest.profile if latest is not None else settings.OVDIFF_PROFILE
    before, after = template_parts(profile)
    context: dict[str, object] = {"vocab": vocab, "rows": rows, "add_form": AddClassesForm(),
                                  "import_form": ImportClassesForm(user=request.user),
                                  "runs": run_report.with_previous(list(access.scope(vocab.runs.all(), request.user)[:10])),
                                  "can_edit": access.can_edit(request.user, vocab),
                                  "prompt_before": before, "prompt_after": after, "profile": profile,
                                  "few_shot": profile in FEW_SHOT_PROFILES}
    context.update(forms)
    return context


@ui_login_required
@require_GET
def vocabulary_detail(request: HttpRequest, pk: int) -> HttpResponse:
    vocab = access.get_readable(Vocabulary.objects.all(), request.user, pk=pk)
    return render(request, "ovdiff/vocabularies/detail.html", _detail_context(request, vocab))


@ui_login_required
@require_POST
def vocabulary_add(request: HttpRequest, pk: int) -> HttpResponse:
    vocab = access.get_editable(Vocabulary.objects.all(), request.user, pk=pk)
    form = AddClassesForm(request.POST)
    if not form.is_valid():
        return render(request, "ovdiff/vocabularies/detail.html", _detail_context(request, vocab, add_form=form), status=400)
    try:
        created, skipped = add_classes(vocab, form.cleaned_data["class_names"], user=request.user)
    except QuotaExceeded as exc:
        form.add_error("class_names", str(exc))
        return render(request, "ovdiff/vocabularies/detail.html", _detail_context(request, vocab, add_form=form),
                      status=400)
    _report(request, created, skipped)
    return redirect("ui:vocabulary_detail", pk=vocab.pk)


@ui_login_required
@require_POST
def vocabulary_import(request: HttpRequest, pk: int) -> HttpResponse:
    vocab = access.get_editable(Vocabulary.objects.all(), request.user, pk=pk)
    form = ImportClassesForm(request.POST, user=request.user)
    if not form.is_valid():
        return render(request, "ovdiff/vocabularies/detail.html", _detail_context(request, vocab, import_form=form), status=400)
    try:
        created, skipped = vocab_pages.import_dataset_classes(vocab, form.cleaned_data["dataset"], user=request.user)
    except ServiceError as exc:
        report_service_error(request, exc, "Nothing imported: ", ".")
        return redirect("ui:vocabulary_detail", pk=vocab.pk)
    _report(request, created, skipped)
    return redirect("ui:vocabulary_detail", pk=vocab.pk)


def _report(request: HttpRequest, created: list, skipped: list[str]) -> None:
    text = f"Added {len(created)} class{'es' if len(created) != 1 else ''}."
    if skipped:
        text += f" Already present: {', '.join(skipped[:20])}{'…' if len(skipped) > 20 else ''}."
    messages.success(request, text)


def _class(request: HttpRequest, vocab_pk: int, class_pk: int) -> VocabularyClass:
    """The class if the user may change it (404 when they may not even see it, 403 when read-only)."""
    return access.get_editable(VocabularyClass.objects.select_related("vocabulary"), request.user, pk=class_pk,
                               vocabulary_id=vocab_pk)


@ui_login_required
@require_POST
def class_label(request: HttpRequest, pk: int, class_pk: int) -> HttpResponse:
    """One click flips thing/stuff; the stored version guards against overwriting someone else's edit."""
    cls = _class(request, pk, class_pk)
    form = LabelForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"“{cls.name}”: the label form was incomplete; nothing changed.")
        return redirect(_anchor(cls))
    try:
        set_label(cls, is_stuff=form.cleaned_data["is_stuff"], user=request.user,
                  expected_version=form.cleaned_data["version"])
    except VersionConflict:
        messages.error(request, f"“{cls.name}” was changed by someone else meanwhile; here is its current state.")
    else:
        affected = run_report.runs_affected_by(cls)
        note = f" Affects {len(affected)} earlier run{'s' if len(affected) != 1 else ''}." if affected else ""
        messages.success(request, f"“{cls.name}” is now {'stuff' if cls.is_stuff else 'a thing'}.{note}")
    return redirect(_anchor(cls))


@ui_login_required
@require_POST
def class_prompt(request: HttpRequest, pk: int, class_pk: int) -> HttpResponse:
    cls = _class(request, pk, class_pk)
    form = PromptForm(request.POST)
    if not form.is_valid():
        vocab = cls.vocabulary
        context = _detail_context(request, vocab, prompt_errors={cls.pk: form.errors}, prompt_values={cls.pk: request.POST.get("prompt", "")})
        return render(request, "ovdiff/vocabularies/detail.html", context, status=400)
    try:
        vocab_pages.set_prompt(cls, prompt=form.cleaned_data["prompt"], expected_version=form.cleaned_data["version"],
                               user=request.user)
    except VersionConflict:
        messages.error(request, f"“{cls.name}” was changed by someone else meanwhile; here is its current state.")
    else:
        messages.success(request, f"Prompt of “{cls.name}” is now “{cls.text}”: the generator receives "
                                  f"“{generator_prompt(cls.text)}”.")
    return redirect(_anchor(cls))


def _anchor(cls: VocabularyClass) -> str:

    return reverse("ui:vocabulary_detail", args=[cls.vocabulary_id]) + f"#class-{cls.pk}"

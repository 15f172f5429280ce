"""Everyday actions on runs, vocabularies, classes and datasets: rename (and name/notes on runs), delete after a
confirmation page that says what happens to dependent runs, re-run. Owner (or staff) only; others get 403."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from ovdiff_web.accounts import access
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import Run
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass
from ovdiff_web.runs import lifecycle
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.views import report_service_error, ui_login_required
from django.http import Http404

KINDS: dict[str, Any] = {"vocabulary": Vocabulary, "class": VocabularyClass, "dataset": Dataset}


def _object(kind: str, pk: int, user: Any) -> Any:
    model = KINDS.get(kind)
    if model is None:

        raise Http404("unknown kind")
    return access.get_editable(model.objects.all(), user, pk=pk)


def _detail_url(obj: Any) -> str:
    if isinstance(obj, Run):
        return reverse("ui:run_detail", args=[obj.pk])
    if isinstance(obj, VocabularyClass):
        return reverse("ui:class_detail", args=[obj.pk])
    if isinstance(obj, Vocabulary):
        return reverse("ui:vocabulary_detail", args=[obj.pk])
    return reverse("ui:dataset_detail", args=[obj.pk])


def _list_url(obj: Any) -> str:
    if isinstance(obj, Run):
        return reverse("ui:runs")
    if isinstance(obj, VocabularyClass):
        return reverse("ui:vocabulary_detail", args=[obj.vocabulary_id])
    return reverse("ui:vocabularies" if isinstance(obj, Vocabulary) else "ui:datasets")


@ui_login_required
@require_POST
def rename(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    obj = _object(kind, pk, request.user)
    old = obj.name
    try:
        lifecycle.rename(obj, request.POST.get("name", ""), user=request.user)
    except ServiceError as exc:
        report_service_error(request, exc, "Not renamed: ", ".")
    else:
        messages.success(request, f"“{old}” is now “{obj.name}”.")
    return redirect(_detail_url(obj))


@ui_login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """GET: what deleting would do (and whether it is refused); POST: delete."""
    obj = _object(kind, pk, request.user)
    runs = lifecycle.dependent_runs(obj)
    if request.method == "POST":
        name, back = obj.name, _list_url(obj)
        try:
            kept = {"vocabulary": lifecycle.delete_vocabulary, "class": lifecycle.delete_class,
                    "dataset": lifecycle.delete_dataset}[kind](obj, user=request.user)
        except ServiceError as exc:
            report_service_error(request, exc, f"“{name}” was not deleted: ", ".")
            return redirect(_detail_url(obj))
        text = f"{kind.capitalize()} “{name}” deleted."
        if kept:
            text += f" {kept} run(s) keep their own copy of the classes they used."
        messages.success(request, text)
        return redirect(back)
    refused = kind == "dataset" and bool(runs) or any(not r.is_finished for r in runs)
    return render(request, "ovdiff/confirm_delete.html",
                  {"obj": obj, "kind": kind, "runs": runs, "refused": refused, "back": _detail_url(obj)})


@ui_login_required
@require_http_methods(["GET", "POST"])
def run_delete(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.get_editable(Run.objects.all(), request.user, pk=pk)
    if request.method == "POST":
        try:
            lifecycle.delete_run(run, user=request.user)
        except ServiceError as exc:
            report_service_error(request, exc, f"Run {pk} was not deleted: ", ".")
            return redirect("ui:run_detail", pk=pk)
        messages.success(request, f"Run {pk} and its results deleted.")
        return redirect("ui:runs")
    return render(request, "ovdiff/confirm_delete.html",
                  {"obj": run, "kind": "run", "runs": [], "refused": not run.is_finished,
                   "back": reverse("ui:run_detail", args=[pk])})


@ui_login_required
@require_POST
def run_label(request: HttpRequest, pk: int) -> HttpResponse:
    """Name and notes of a run."""
    run = access.get_editable(Run.objects.all(), request.user, pk=pk)
    lifecycle.set_run_label(run, name=request.POST.get("name", ""), notes=request.POST.get("notes", ""),
                            user=request.user)
    messages.success(request, f"Run {pk} saved.")
    return redirect("ui:run_detail", pk=pk)


@ui_login_required
@require_POST
def run_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the same run again (same dataset, vocabulary as it is now, profile, limit and settings)."""
    run = access.get_readable(Run.objects.select_related("dataset", "vocabulary"), request.user, pk=pk)
    try:
        new = lifecycle.rerun(run, request.user)
    except ServiceError as exc:
        report_service_error(request, exc, f"Run {pk} was not re-run: ", ".")
        return redirect("ui:run_detail", pk=pk)
    messages.success(request, f"Run {new.pk} queued: a re-run of run {pk} with the same settings.")
    return redirect("ui:run_detail", pk=new.pk)

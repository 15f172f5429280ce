"""Class page: its support sets as a gallery (attribution and fg/bg masks as overlays), prototype counts per
extractor, uploading your own support images, and queueing a rebuild (optionally with a new seed)."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ovdiff_web.accounts import access
from ovdiff_web.support.forms import RegenerateForm, SupportUploadForm
from ovdiff_web.support.models import SupportImage
from ovdiff_web.vocabularies.models import VocabularyClass
from ovdiff_web.support import curation, choice as support_choice, images as support_images
from ovdiff_web.common.broker import task_state as ui_tasks
from ovdiff_web.vocabularies.prompts import generator_prompt
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.forms import add_service_error
from ovdiff_web.support.rebuild import queue_regenerate
from ovdiff_web.common.paths import PathNotAllowed, media_path
from ovdiff_web.common.views import report_service_error, ui_login_required
from ovdiff_web.support.masks import marks, services as mask_services
from ovdiff_web.support.masks.forms import GroundTruthForm
from ovdiff_web.support.masks.store import describe, mask_files
from engine.errors import BadInputError


@ui_login_required
@require_http_methods(["GET", "POST"])
def class_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cls = access.get_readable(VocabularyClass.objects.select_related("vocabulary", "label_changed_by"),
                              request.user, pk=pk)
    if request.method == "POST":
        access.check_edit(request.user, cls)
    form = SupportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        files = (data["images"], data.get("masks") or [], data.get("archive"))
        try:
            if data.get("add_to_set"):
                version, stored = mask_services.add_uploads(cls, *files, user=request.user)
            else:
                stored = mask_services.replace_uploads(cls, *files, user=request.user)
        except (BadInputError, ServiceError) as exc:
            form.add_error("masks" if _about_masks(exc) else "images", str(exc))
        else:
            what = describe(stored)
            if data.get("add_to_set"):
                messages.success(request, f"{version.summary[:1].upper()}{version.summary[1:]} to “{cls.name}” "
                                          f"(version {version.number}); rebuild to see them.")
            else:
                messages.success(request, f"{what[:1].upper()}{what[1:]} stored for “{cls.name}”; the next run "
                                          "builds its prototypes from them.")
            return redirect("ui:class_detail", pk=cls.pk)
    return _render_detail(request, cls, form=form)


def _about_masks(exc: Exception) -> bool:
    item = str(getattr(exc, "item", "") or "")
    return item.startswith("masks") or str(exc).startswith("masks")


def _render_detail(request: HttpRequest, cls: VocabularyClass, *, form: SupportUploadForm | None = None,
                   regen_form: RegenerateForm | None = None, gt_form: GroundTruthForm | None = None,
                   status: int = 200) -> HttpResponse:
    form = form or SupportUploadForm()
    rebuild_profile, from_run = curation.rebuild_profile_source(cls)
    regen_form = regen_form or RegenerateForm(initial={"profile": rebuild_profile})  # the profile a rebuild uses
    jobs = [{**job, **ui_tasks.task_state(job["id"])} for job in _jobs(request, cls)]
    sets = list(support_images.support_sets_for(cls))
    shown = curation.review_set(cls)
    review = marks.annotate(cls, curation.review_images(cls, shown) if shown else [], shown, thumbs=True)
    context = {"cls": cls, "support_sets": sets, "form": form, "regen_form": regen_form, "jobs": jobs,
               "review_set": shown, "review": review, "gt_form": gt_form or GroundTruthForm(user=request.user),
               "review_built": curation.is_built(cls, shown), "versions": curation.versions(cls),
               "rebuild_profile": rebuild_profile, "rebuild_profile_from_run": from_run,
               "uploaded_sets": [{**up, "masks": mask_files(f"user_support/{cls.pk}/{up['folder']}")}
                                 for up in support_choice.uploaded_sets(cls)],
               "generated_in_use": support_choice.generated_in_use(cls, sets),
               "generator_prompt": generator_prompt(cls.text)}
    return render(request, "ovdiff/support/class_detail.html", context,
                  status=status if status != 200 else (400 if (form.errors or regen_form.errors or (gt_form and gt_form.errors))
                                                      else 200))


@ui_login_required
@require_POST
def class_ground_truth(request: HttpRequest, pk: int) -> HttpResponse:
    """The class's region in each chosen image of a dataset the user may read becomes a support image with its
    exact mask, added to the class's images (``masks.services.add_ground_truth``) or as them
    (``replace_by_ground_truth``); refused input re-shows the page with the reason (400)."""
    cls = access.get_editable(VocabularyClass.objects.select_related("vocabulary", "label_changed_by"),
                              request.user, pk=pk)
    form = GroundTruthForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        crop = data["crop"] == "crop"
        try:
            if data.get("mode") == "replace":
                summary, _ = mask_services.replace_by_ground_truth(cls, data["dataset"], data["image_ids"],
                                                                   crop=crop, user=request.user)
                done = f"“{cls.name}”: {summary}."
            else:
                version, _ = mask_services.add_ground_truth(cls, data["dataset"], data["image_ids"], crop=crop,
                                                            user=request.user)
                done = f"“{cls.name}”: {version.summary} (version {version.number}); rebuild to use them."
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, done)
            return redirect(reverse("ui:class_detail", args=[cls.pk]) + "#review")
    return _render_detail(request, cls, gt_form=form)


SUPPORT_ACTIONS = ("use_generated", "use_uploaded", "delete_uploaded")


@ui_login_required
@require_POST
def class_support(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the support images of a class: generated, or one uploaded folder; or delete an uploaded folder."""
    cls = access.get_editable(VocabularyClass.objects.select_related("vocabulary__owner"), request.user, pk=pk)
    action, folder = request.POST.get("action", ""), request.POST.get("folder", "")
    if action not in SUPPORT_ACTIONS:
        return HttpResponse("unknown action: use_generated, use_uploaded or delete_uploaded", status=400)
    try:
        if action == "use_generated":
            support_choice.use_generated(cls)
            messages.success(request, f"“{cls.name}” uses generated support images again.")
        elif action == "use_uploaded":
            support_choice.use_uploaded(cls, folder)
            messages.success(request, f"“{cls.name}” uses the uploaded set {folder[:8]}; the next run builds its "
                                      "prototypes from it.")
        else:
            was_in_use = support_choice.delete_uploaded(cls, folder)
            messages.success(request, f"Uploaded set {folder[:8]} deleted" +
                             ("; “%s” uses generated support images again." % cls.name if was_in_use else "."))
    except ServiceError as exc:
        report_service_error(request, exc)
    return redirect("ui:class_detail", pk=cls.pk)


REGEN_SESSION_KEY = "ovdiff_regenerate"
REGEN_KEPT = 5


def remember_job(request: HttpRequest, cls: VocabularyClass, task_id: str, seed: int | None, profile: str) -> None:
    """Keep a queued rebuild in this browser session so the class page shows its progress."""
    store = request.session.get(REGEN_SESSION_KEY, {})
    jobs = [{"id": task_id, "seed": seed, "profile": profile,
             "queued_at": timezone.now().strftime("%Y-%m-%d %H:%M:%S")}] + store.get(str(cls.pk), [])
    store[str(cls.pk)] = jobs[:REGEN_KEPT]
    request.session[REGEN_SESSION_KEY] = store


def _jobs(request: HttpRequest, cls: VocabularyClass) -> list[dict[str, object]]:
    """The rebuilds this browser session queued for ``cls`` (newest first)."""
    return list(request.session.get(REGEN_SESSION_KEY, {}).get(str(cls.pk), []))


@ui_login_required
@require_POST
def class_regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue ``tasks.artifacts.regenerate_class``; a new seed gives a new support set, the same one a cache hit."""
    cls = access.get_editable(VocabularyClass.objects.select_related("vocabulary", "label_changed_by"),
                              request.user, pk=pk)
    form = RegenerateForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, cls, regen_form=form)
    try:
        task_id = queue_regenerate(cls, form.cleaned_data["profile"], form.overrides(), user=request.user)
    except ServiceError as exc:  # a setting (shown with its name), a quota (429) or no broker (503)
        return _render_detail(request, cls, regen_form=form, status=add_service_error(form, exc))
    remember_job(request, cls, task_id, form.cleaned_data["seed"], form.cleaned_data["profile"])
    seed = form.cleaned_data["seed"]
    messages.success(request, f"Rebuild of “{cls.name}” queued"
                              f"{f' with seed {seed}' if seed is not None else ''}; its status is shown below.")
    return redirect("ui:class_detail", pk=cls.pk)


@ui_login_required
@require_GET
def class_regenerate_status(request: HttpRequest, pk: int, task_id: str) -> JsonResponse:
    """State of a rebuild this session queued, in the shape the dashboard's progress poller reads."""
    cls = access.get_readable(VocabularyClass.objects.all(), request.user, pk=pk)
    if task_id not in {job["id"] for job in _jobs(request, cls)}:
        raise Http404("no such rebuild in this session")
    state = ui_tasks.task_state(task_id)
    return JsonResponse({"status": state["status"], "label": state["label"], "finished": state["finished"],
                         "error": state["error"], "stages": []})


@require_GET
def support_layer(request: HttpRequest, image_pk: int, layer: str) -> HttpResponse:
    """Attribution heat map or fg/bg mask of one support image as a transparent PNG overlay; 404 to anyone who
    may not read its support set (``access.scope``), anonymous users included (a file, not a page)."""
    if layer not in support_images.SUPPORT_LAYERS:
        raise Http404("unknown layer")
    image = access.get_readable(SupportImage.objects.all(), request.user, pk=image_pk)
    rel = getattr(image, layer)
    try:
        path = media_path(rel) if rel else None
    except PathNotAllowed:
        path = None
    if path is None or not path.is_file():
        raise Http404(f"no {layer} stored for this image")
    response = HttpResponse(support_images.support_layer_png(path, layer), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response

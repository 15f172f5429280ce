"""Dashboard routes (namespace ``ui``)."""
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from ovdiff_web.support import class_views as classes, views as curation
from ovdiff_web.support.editor import views as mask_editor
from ovdiff_web.support.history import views as history
from ovdiff_web.runs.views import compare, manage, files as run_files, runs
from ovdiff_web.datasets import files as dataset_files, views as datasets
from ovdiff_web.ops import media_files as files, views as workers
from ovdiff_web.predictions import views as predictions, segment_views as segment
from ovdiff_web.accounts import team_views as team, views as sharing
from ovdiff_web.vocabularies import views as vocabularies
from ovdiff_web.integrations import ls_pages

app_name = "ui"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="ui:runs", permanent=False), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True, next_page="ui:runs"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="ui:login"), name="logout"),
    path("runs/", runs.run_list, name="runs"),
    path("runs/<int:pk>/", runs.run_detail, name="run_detail"),
    path("runs/<int:pk>/progress.json", runs.run_progress_json, name="run_progress"),
    path("runs/<int:pk>/cancel/", runs.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/resume/", runs.run_resume, name="run_resume"),
    path("runs/<int:pk>/label/", manage.run_label, name="run_label"),
    path("runs/<int:pk>/delete/", manage.run_delete, name="run_delete"),
    path("runs/<int:pk>/rerun/", manage.run_rerun, name="run_rerun"),
    path("library/<str:kind>/<int:pk>/rename/", manage.rename, name="rename"),
    path("library/<str:kind>/<int:pk>/delete/", manage.delete, name="delete"),
    path("library/<str:kind>/<int:pk>/share/", sharing.share, name="share"),
    path("runs/<int:pk>/confusion/<int:gt>/<int:pred>/", runs.confusion_cell, name="confusion_cell"),
    path("runs/<int:pk>/images/<int:result_pk>/image.png", run_files.run_image, name="run_image"),
    path("runs/<int:pk>/images/<int:result_pk>/<str:kind>.png", run_files.run_overlay, name="run_overlay"),
    path("runs/<int:pk>/export/metrics.<str:fmt>", run_files.export_metrics, name="export_metrics"),
    path("runs/<int:pk>/export/predictions.zip", run_files.export_predictions, name="export_predictions"),
    path("runs/<int:pk>/export/coco-polygons.json", run_files.export_polygons, {"fmt": "coco-polygons.json"},
         name="export_coco_polygons"),
    path("runs/<int:pk>/export/yolo.zip", run_files.export_polygons, {"fmt": "yolo.zip"}, name="export_yolo"),
    path("compare/", compare.compare, name="compare"),
    path("vocabularies/", vocabularies.vocabulary_list, name="vocabularies"),
    path("vocabularies/<int:pk>/", vocabularies.vocabulary_detail, name="vocabulary_detail"),
    path("vocabularies/<int:pk>/add/", vocabularies.vocabulary_add, name="vocabulary_add"),
    path("vocabularies/<int:pk>/import/", vocabularies.vocabulary_import, name="vocabulary_import"),
    path("vocabularies/<int:pk>/history/", history.vocabulary_history, name="vocabulary_history"),
    path("vocabularies/<int:pk>/classes/<int:class_pk>/label/", vocabularies.class_label, name="class_label"),
    path("vocabularies/<int:pk>/classes/<int:class_pk>/prompt/", vocabularies.class_prompt, name="class_prompt"),
    path("datasets/", datasets.dataset_list, name="datasets"),
    path("datasets/upload/", datasets.dataset_upload, name="dataset_upload"),
    path("datasets/register/", datasets.dataset_register, name="dataset_register"),
    path("datasets/<int:pk>/", datasets.dataset_detail, name="dataset_detail"),
    path("datasets/<int:pk>/import/", datasets.dataset_import, name="dataset_import"),
    path("datasets/<int:pk>/images/<int:index>/<str:kind>.png", dataset_files.dataset_image, name="dataset_image"),
    path("classes/<int:pk>/", classes.class_detail, name="class_detail"),
    path("classes/<int:pk>/history/", history.class_history, name="class_history"),
    path("classes/<int:pk>/regenerate/", classes.class_regenerate, name="class_regenerate"),
    path("classes/<int:pk>/support/", classes.class_support, name="class_support"),
    path("classes/<int:pk>/curate/", curation.class_curate, name="class_curate"),
    path("classes/<int:pk>/ground-truth/", classes.class_ground_truth, name="class_ground_truth"),
    path("vocabularies/<int:pk>/review/", curation.vocabulary_review, name="vocabulary_review"),
    path("classes/<int:pk>/support-images/<int:image_pk>/edit/", mask_editor.mask_editor, name="mask_editor"),
    path("classes/<int:pk>/support-images/<int:image_pk>/current-mask.png", mask_editor.current_mask,
         name="current_mask"),
    path("support-images/<int:image_pk>/instance/<int:index>.png", curation.support_instance, name="support_instance"),
    path("classes/<int:pk>/regenerate/<str:task_id>.json", classes.class_regenerate_status,
         name="class_regenerate_status"),
    path("support-images/<int:image_pk>/<str:layer>.png", classes.support_layer, name="support_layer"),
    path("segment/", predictions.segment, name="segment"),
    path("segment/jobs/<int:pk>/", predictions.prediction, name="prediction"),
    path("segment/jobs/<int:pk>/image/", predictions.prediction_image, name="prediction_image"),
    path("segment/jobs/<int:pk>/input.png", predictions.prediction_input, name="prediction_input"),
    path("segment/jobs/<int:pk>/overlay.png", predictions.prediction_overlay, name="prediction_overlay"),
    path("segment/jobs/<int:pk>/explain.json", predictions.prediction_explain, name="prediction_explain"),
    path("segment/jobs/<int:pk>/labels.zip", predictions.prediction_labels_zip, name="prediction_labels_zip"),
    path("segment/jobs/<int:pk>/coco.json", predictions.prediction_coco, name="prediction_coco"),
    path("segment/jobs/<int:pk>/coco-polygons.json", predictions.prediction_coco_polygons,
         name="prediction_coco_polygons"),
    path("segment/jobs/<int:pk>/yolo.zip", predictions.prediction_yolo_zip, name="prediction_yolo_zip"),
    path("segment/<str:token>/", segment.segment_result, name="segment_result"),
    path("segment/<str:token>/labels.png", segment.segment_overlay, name="segment_overlay"),
    path("segment/<str:token>/explain.json", segment.segment_explain, name="segment_explain"),
    path("workers/", workers.workers, name="workers"),
    path("label-studio/", ls_pages.connection_list, name="label_studio_connections"),
    path("label-studio/<int:pk>/", ls_pages.connection_detail, name="label_studio_connection"),
    path("team/", team.team, name="team"),
    path("files/<path:path>", files.media_file, name="media"),
]

"""/api/ routes."""
from __future__ import annotations

from typing import Any, Callable

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from ovdiff_web.core.api import views
from ovdiff_web.datasets import api as dataset_api
from ovdiff_web.predictions import api as prediction_views
from ovdiff_web.runs.api import views as run_views
from ovdiff_web.security import ObtainExpiringToken
from ovdiff_web.support import api_sets


def schema_view(name: str, **initkwargs: Any) -> Callable[..., HttpResponse]:
    """drf-spectacular's ``name`` view, imported on its first request: its module pulls in django.test and jinja2
    (~70 ms of every web and worker start-up, whose system checks load the URLs). Like the view it wraps, it is
    excluded from the schema."""
    loaded: list[Callable[..., HttpResponse]] = []

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not loaded:
            from drf_spectacular import views as spectacular

            loaded.append(getattr(spectacular, name).as_view(**initkwargs))
        return loaded[0](request, *args, **kwargs)

    return view


router = DefaultRouter()
router.register("vocabularies", views.VocabularyViewSet)
router.register("classes", views.VocabularyClassViewSet)
router.register("support-sets", api_sets.SupportSetViewSet)
router.register("banks", api_sets.PrototypeBankViewSet)
router.register("datasets", dataset_api.DatasetViewSet)
router.register("runs", run_views.RunViewSet)
router.register("predictions", prediction_views.PredictionViewSet, basename="prediction")

urlpatterns = [
    path("health/", views.health, name="api-health"),
    path("workers/", views.WorkersView.as_view(), name="api-workers"),
    path("auth/token/", ObtainExpiringToken.as_view(), name="api-token"),
    path("auth/token/revoke/", views.revoke_token, name="api-token-revoke"),
    path("schema/", schema_view("SpectacularAPIView"), name="api-schema"),
    path("docs/", schema_view("SpectacularSwaggerView", url_name="api-schema"), name="api-docs"),
    path("redoc/", schema_view("SpectacularRedocView", url_name="api-schema"), name="api-redoc"),
    path("", include(router.urls)),
]

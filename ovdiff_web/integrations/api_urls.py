"""/api/integrations/: Label Studio connections and the FiftyOne export (``api``)."""
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from ovdiff_web.integrations import api

router = DefaultRouter()
router.register("label-studio", api.LabelStudioConnectionViewSet, basename="label-studio-connection")

urlpatterns = [
    path("fiftyone/runs/<int:run_id>/", api.fiftyone_export, name="fiftyone-export"),
    path("", include(router.urls)),
]

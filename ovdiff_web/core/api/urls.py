"""/api/ routes."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from ovdiff_web.core.api import prediction_views, run_views, views
from ovdiff_web.security import ObtainExpiringToken

router = DefaultRouter()
router.register("vocabularies", views.VocabularyViewSet)
router.register("classes", views.VocabularyClassViewSet)
router.register("support-sets", views.SupportSetViewSet)
router.register("banks", views.PrototypeBankViewSet)
router.register("datasets", views.DatasetViewSet)
router.register("runs", run_views.RunViewSet)
router.register("predictions", prediction_views.PredictionViewSet, basename="prediction")

urlpatterns = [
    path("health/", views.health, name="api-health"),
    path("workers/", views.WorkersView.as_view(), name="api-workers"),
    path("auth/token/", ObtainExpiringToken.as_view(), name="api-token"),
    path("auth/token/revoke/", views.revoke_token, name="api-token-revoke"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include(router.urls)),
]

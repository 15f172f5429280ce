"""Top-level routes: admin, the REST API under /api/, media in DEBUG. The dashboard adds its own routes here."""
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/integrations/", include("ovdiff_web.integrations.api_urls")),
    path("integrations/", include("ovdiff_web.integrations.urls")),
    path("api/", include("ovdiff_web.core.api.urls")),
    path("", include("ovdiff_web.core.urls_ui")),
]

if settings.DEBUG:
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]

handler400 = "ovdiff_web.core.api.errors.bad_request"
handler404 = "ovdiff_web.core.api.errors.not_found"
handler500 = "ovdiff_web.core.api.errors.server_error"

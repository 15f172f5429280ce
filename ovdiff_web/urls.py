"""Top-level routes: admin, the REST API under /api/, the dashboard.

No route serves MEDIA_ROOT directly, in DEBUG or not: files go through the dashboard's access-checked
``/files/`` route (``ovdiff_web.ops.media_files``)."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/integrations/", include("ovdiff_web.integrations.api_urls")),
    path("integrations/", include("ovdiff_web.integrations.urls")),
    path("api/", include("ovdiff_web.core.api.urls")),
    path("", include("ovdiff_web.core.urls_ui")),
]

handler400 = "ovdiff_web.common.api.errors.bad_request"
handler404 = "ovdiff_web.common.api.errors.not_found"
handler500 = "ovdiff_web.common.api.errors.server_error"

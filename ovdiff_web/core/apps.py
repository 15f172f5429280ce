from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Models, REST API and admin of the ovdiff service."""

    name = "ovdiff_web.core"
    label = "core"
    verbose_name = "ovdiff"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "ovdiff_web.integrations"
    label = "integrations"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Annotation tool integrations"

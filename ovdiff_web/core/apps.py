from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Models, REST API and admin of the ovdiff service."""

    name = "ovdiff_web.core"
    label = "core"
    verbose_name = "ovdiff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The composition root: rooms above ``runs`` plug their run kinds into its table (ovdiff_web.runs.kinds).
        # Imported here, not at the top: models may be imported only once the app registry is ready.
        from ovdiff_web.predictions.kind import register_kind  # noqa: PLC0415

        register_kind()

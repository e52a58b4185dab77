from django.apps import AppConfig


class MediationSessionsConfig(AppConfig):
    """Real-time mediation rooms.

    The label is not ``sessions``: django.contrib.sessions owns that label.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions"
    label = "mediation_sessions"
    verbose_name = "Mediation sessions"

    def ready(self) -> None:
        # Registers the after-commit broadcast and the access-withdrawn hook, whatever server runs.
        from sessions import consumers  # noqa: F401

from django.apps import AppConfig


class MediationSessionsConfig(AppConfig):
    """Real-time mediation rooms.

    The label is not ``sessions``: django.contrib.sessions owns that label.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions"
    label = "mediation_sessions"
    verbose_name = "Mediation sessions"

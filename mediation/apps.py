from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class MediationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mediation"
    verbose_name = gettext_lazy("枫桥调解")

    def ready(self) -> None:
        from mediation import checks, signals  # noqa: F401  (registers checks and receivers)

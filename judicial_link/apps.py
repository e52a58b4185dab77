from django.apps import AppConfig


class JudicialLinkConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "judicial_link"

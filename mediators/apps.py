from django.apps import AppConfig


class MediatorsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mediators"

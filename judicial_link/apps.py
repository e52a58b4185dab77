from django.apps import AppConfig


class JudicialLinkConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "judicial_link"

    def ready(self) -> None:
        # The core may not import judicial_link (dependencies point left): its case-page section
        # is plugged in from here.
        from judicial_link.case_panel import confirmation_panel
        from mediation.views.cases import register_case_panel

        register_case_panel(confirmation_panel)

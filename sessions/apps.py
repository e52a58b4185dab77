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
        from mediation.views.cases import register_case_panel
        from sessions import consumers  # noqa: F401
        from sessions.case_panel import rooms_panel

        register_case_panel(rooms_panel)

        # Reminders before each scheduled sitting go out on the deadline sweep's pass.
        from mediation.sweep import register_timed_reminders
        from sessions.scheduling import send_session_reminders

        register_timed_reminders(send_session_reminders)

        # The demo case in mediation gets a scheduled sitting.
        from mediation.demo import demo_sitting_scheduling
        from sessions.scheduling import schedule_demo_sitting

        demo_sitting_scheduling.connect(schedule_demo_sitting, weak=False, dispatch_uid="sessions.demo_sitting")

        # The mediation record (调解笔录) of each sitting held, on the case page.
        from sessions.views_record import records_panel

        register_case_panel(records_panel)

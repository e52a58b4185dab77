from django.apps import AppConfig


class JudicialLinkConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "judicial_link"

    def ready(self) -> None:
        # The core may not import judicial_link (dependencies point left): its case-page section
        # is plugged in from here.
        from judicial_link.case_panel import confirmation_panel, termination_panel
        from mediation.views.cases import register_case_panel

        register_case_panel(confirmation_panel)
        register_case_panel(termination_panel)

        # The agreement's dated obligations become due items when it takes effect.
        from judicial_link.case_panel import performance_panel
        from judicial_link.performance import on_agreement_effective
        from signing.signals import agreement_effective

        register_case_panel(performance_panel)
        agreement_effective.connect(on_agreement_effective, dispatch_uid="judicial.performance_items")

        # The court's own clocks remind the court's clerks.
        from judicial_link.services import court_of_open_application
        from mediation.models import ClockKind
        from mediation.sweep import register_recipients

        register_recipients(ClockKind.COURT_ACCEPTANCE, court_of_open_application)
        register_recipients(ClockKind.COURT_RULING, court_of_open_application)

        from judicial_link import demo
        from mediation.demo import demo_confirmation_applying, demo_confirmation_ruling, demo_mediation_terminated

        demo_confirmation_applying.connect(demo.apply_for_demo, weak=False, dispatch_uid="judicial.demo_apply")
        demo_confirmation_ruling.connect(demo.confirm_for_demo, weak=False, dispatch_uid="judicial.demo_confirm")
        demo_mediation_terminated.connect(
            demo.record_termination_for_demo, weak=False, dispatch_uid="judicial.demo_termination"
        )

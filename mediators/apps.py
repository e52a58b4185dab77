from typing import Any

from django.apps import AppConfig


class MediatorsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mediators"

    def ready(self) -> None:
        # The core may not import the pool (dependencies point left); it calls back through this
        # hook so every assignment, however made, obeys the pool's status, certificate and conflict
        # rules (在线调解规则 Art 13).
        from mediation import services
        from mediators.neutrality import check_acceptance, check_assignment

        services.register_assignment_check(check_assignment)
        services.register_acceptance_check(check_acceptance)

        from mediation.views.cases import register_case_panel
        from mediators.case_panel import mediator_panel

        register_case_panel(mediator_panel)

        from mediation.demo import demo_mediator_accepting, demo_people_ready
        from mediators.roster import load_demo_pool

        def give_demo_mediators_profiles(sender: object, **people: Any) -> None:
            load_demo_pool(people["centre"], people["mediators"], people["institutions"])

        demo_people_ready.connect(give_demo_mediators_profiles, weak=False, dispatch_uid="mediators.demo_pool")

        def demo_mediator_declares_no_conflict(sender: object, case: Any, mediator: Any, **kwargs: Any) -> None:
            from mediators.models import Disclosure

            Disclosure.objects.get_or_create(case=case, mediator=mediator, defaults={"has_conflict": False})

        demo_mediator_accepting.connect(
            demo_mediator_declares_no_conflict, weak=False, dispatch_uid="mediators.demo_disclosure"
        )

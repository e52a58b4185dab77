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
        from mediators.neutrality import check_assignment

        services.register_assignment_check(check_assignment)

        from mediation.demo import demo_people_ready
        from mediators.roster import load_demo_pool

        def give_demo_mediators_profiles(sender: object, **people: Any) -> None:
            load_demo_pool(people["centre"], people["mediators"], people["institutions"])

        demo_people_ready.connect(give_demo_mediators_profiles, weak=False, dispatch_uid="mediators.demo_pool")

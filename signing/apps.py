from typing import Any

from django.apps import AppConfig


class SigningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "signing"

    def ready(self) -> None:
        # The core may not import signing (dependencies point left): the agreement's section on
        # the case page and the demo's signed agreement are plugged in from here.
        from mediation.views.cases import register_case_panel
        from signing import checks  # noqa: F401 - registers the CJK font check
        from signing.case_panel import agreement_panel

        register_case_panel(agreement_panel)

        from mediation.demo import demo_agreement_signing

        def sign_demo(sender: object, **kwargs: Any) -> bool:
            from signing.demo import sign_demo_agreement

            return sign_demo_agreement(sender, **kwargs)

        demo_agreement_signing.connect(sign_demo, weak=False, dispatch_uid="signing.demo_agreement")

        # The mediation record (调解笔录) is rendered and sealed once every party has confirmed it.
        from sessions.record import record_confirmed
        from signing.records import seal_after_confirmation

        record_confirmed.connect(seal_after_confirmation, dispatch_uid="signing.seal_mediation_record")

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import path

from mediation.forms import LoginForm
from mediation.views import accounts, cases, institution

urlpatterns = [
    path("", accounts.home, name="home"),
    # The middleware lets /display/ through before the second factor: large text helps there too.
    path("display/", accounts.display_mode, name="display_mode"),
    # Everything reachable before the TOTP step lives under /accounts/ (mediation.middleware).
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("accounts/logout/", login_required(auth_views.LogoutView.as_view()), name="logout"),
    path("accounts/register/", accounts.register, name="register"),
    path("accounts/otp/setup/", accounts.otp_setup, name="otp_setup"),
    path("accounts/otp/verify/", accounts.otp_verify, name="otp_verify"),
    path("cases/", cases.my_cases, name="my_cases"),
    path("cases/new/", cases.file_complaint, name="file_complaint"),
    path("cases/<int:pk>/", cases.case_detail, name="case_detail"),
    path("cases/<int:pk>/evidence/", cases.evidence_upload, name="evidence_upload"),
    path("cases/<int:pk>/evidence/<int:evidence_pk>/", cases.evidence_download, name="evidence_download"),
    path("cases/<int:pk>/accept-resolution/", cases.accept_resolution, name="case_accept_resolution"),
    path("cases/<int:pk>/request-mediation/", cases.request_mediation, name="case_request_mediation"),
    path("cases/<int:pk>/institution-consent/", cases.institution_consent, name="case_institution_consent"),
    path("cases/<int:pk>/mediator-accept/", cases.mediator_accept, name="case_mediator_accept"),
    path("cases/<int:pk>/mediator-decline/", cases.mediator_decline, name="case_mediator_decline"),
    path("cases/<int:pk>/terminate/", cases.terminate, name="case_terminate"),
    path("institution/inbox/", institution.inbox, name="institution_inbox"),
    path("cases/<int:pk>/answer/", institution.answer, name="institution_answer"),
    path("cases/<int:pk>/extension/", institution.request_extension, name="institution_request_extension"),
    path(
        "cases/<int:pk>/extension/<int:extension_pk>/decide/",
        institution.decide_extension,
        name="institution_decide_extension",
    ),
]

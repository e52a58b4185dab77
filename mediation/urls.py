from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # Accounts, home, display preferences, consumer and institution pages, case pages.
    path("", include("mediation.views.urls_parties")),
    # Centre staff (case managers) and regulators.
    path("centre/", include("mediation.views.urls_staff")),
    # The mediator pool: public roster, neutrality, assignment, caseloads, evaluation.
    path("pool/", include("mediators.urls")),
    # Mediation rooms: the joint room and the caucus rooms (websockets in mediation/routing.py).
    path("", include("sessions.urls")),
    # Agreements and signatures, public verification, the built-in CA and time-stamping service.
    path("", include("signing.urls")),
    # The court API for courts' own systems (token per court) and its OpenAPI schema.
    path("api/court/v1/", include("judicial_link.urls_api")),
    # Judicial confirmation: readiness, venue (and, to come, applications and the court side).
    path("", include("judicial_link.urls")),
]

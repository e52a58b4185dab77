"""Centre staff and regulator pages, mounted at /centre/ (url names ``staff:...``)."""

from django.urls import path

from mediation.views import staff, statistics

app_name = "staff"

urlpatterns = [
    path("cases/", staff.case_list, name="case_list"),
    path("intake/", staff.intake, name="intake"),
    path("cases/<int:pk>/accept/", staff.accept, name="case_accept"),
    path("cases/<int:pk>/decline/", staff.decline, name="case_decline"),
    path("cases/<int:pk>/transfer/", staff.transfer, name="case_transfer"),
    path("cases/<int:pk>/assign-mediator/", staff.assign_mediator, name="case_assign_mediator"),
    path("cases/<int:pk>/extend-term/", staff.extend_term, name="case_extend_term"),
    path("cases/<int:pk>/pause-term/", staff.pause_term, name="case_pause_term"),
    path("cases/<int:pk>/resume-term/", staff.resume_term, name="case_resume_term"),
    path("cases/<int:pk>/terminate/", staff.terminate, name="case_terminate"),
    path("cases/<int:pk>/close/", staff.close, name="case_close"),
    path("statistics/", statistics.statistics, name="statistics"),
    path("statistics.csv", statistics.statistics_csv, name="statistics_csv"),
]

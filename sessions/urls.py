from django.urls import path

from sessions import views, views_scheduling

app_name = "sessions"

urlpatterns = [
    path("cases/<int:case_pk>/rooms/", views.rooms, name="rooms"),
    path("cases/<int:case_pk>/sessions/", views_scheduling.sessions_list, name="sessions_list"),
    path("cases/<int:case_pk>/sessions/schedule/", views_scheduling.session_schedule, name="session_schedule"),
    path("cases/<int:case_pk>/sessions/unavailable/", views_scheduling.unavailable_add, name="unavailable_add"),
    path(
        "sessions/unavailable/<int:unavailable_date_pk>/delete/",
        views_scheduling.unavailable_delete,
        name="unavailable_delete",
    ),
    path("sessions/<int:session_pk>/reschedule/", views_scheduling.session_reschedule, name="session_reschedule"),
    path("sessions/<int:session_pk>/cancel/", views_scheduling.session_cancel, name="session_cancel"),
    path("sessions/<int:session_pk>/invite.ics", views_scheduling.session_ics, name="session_ics"),
]

from django.urls import path

from sessions import views, views_opening

app_name = "sessions"

urlpatterns = [
    path("cases/<int:case_pk>/rooms/", views.rooms, name="rooms"),
]

# Opening and running a sitting (sessions/views_opening.py).
urlpatterns += [
    path("sessions/<int:session_pk>/", views_opening.session_detail, name="session_detail"),
    path("sessions/<int:session_pk>/check-in/", views_opening.check_in, name="check_in"),
    path("sessions/<int:session_pk>/recording/", views_opening.session_recording, name="session_recording"),
    path("sessions/<int:session_pk>/open/", views_opening.session_open, name="session_open"),
    path("sessions/<int:session_pk>/close/", views_opening.session_close, name="session_close"),
    path(
        "sessions/<int:session_pk>/attendance/<int:attendance_pk>/",
        views_opening.attendance_action,
        name="attendance_action",
    ),
]

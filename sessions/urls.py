from django.urls import path

from sessions import views, views_attachments, views_opening, views_record, views_scheduling

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

# The mediation record (调解笔录) of one sitting (sessions/views_record.py).
urlpatterns += [
    path("sessions/<int:session_pk>/record/", views_record.record, name="record"),
    path("sessions/<int:session_pk>/record/save/", views_record.record_save, name="record_save"),
    path("sessions/<int:session_pk>/record/finalise/", views_record.record_finalise, name="record_finalise"),
    path("sessions/<int:session_pk>/record/confirm/", views_record.record_confirm, name="record_confirm"),
    path("sessions/<int:session_pk>/record/object/", views_record.record_object, name="record_object"),
    path("sessions/<int:session_pk>/record/pdf/", views_record.record_pdf, name="record_pdf"),
]

# Negotiation state and room files (sessions/views.py, sessions/views_attachments.py).
urlpatterns += [
    path("cases/<int:case_pk>/negotiation/", views.negotiation_view, name="negotiation"),
    path("rooms/<int:room_pk>/attachments/", views_attachments.upload, name="attachments"),
    path("rooms/<int:room_pk>/attachments/<int:attachment_pk>/", views_attachments.download, name="attachment"),
]

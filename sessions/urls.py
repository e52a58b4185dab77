from django.urls import path

from sessions import views, views_record

app_name = "sessions"

urlpatterns = [
    path("cases/<int:case_pk>/rooms/", views.rooms, name="rooms"),
    # The mediation record (调解笔录) of one sitting.
    path("sessions/<int:session_pk>/record/", views_record.record, name="record"),
    path("sessions/<int:session_pk>/record/save/", views_record.record_save, name="record_save"),
    path("sessions/<int:session_pk>/record/finalise/", views_record.record_finalise, name="record_finalise"),
    path("sessions/<int:session_pk>/record/confirm/", views_record.record_confirm, name="record_confirm"),
    path("sessions/<int:session_pk>/record/object/", views_record.record_object, name="record_object"),
    path("sessions/<int:session_pk>/record/pdf/", views_record.record_pdf, name="record_pdf"),
]

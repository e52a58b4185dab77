from django.urls import path

from sessions import views, views_attachments

app_name = "sessions"

urlpatterns = [
    path("cases/<int:case_pk>/rooms/", views.rooms, name="rooms"),
    path("cases/<int:case_pk>/negotiation/", views.negotiation_view, name="negotiation"),
    path("rooms/<int:room_pk>/attachments/", views_attachments.upload, name="attachments"),
    path("rooms/<int:room_pk>/attachments/<int:attachment_pk>/", views_attachments.download, name="attachment"),
]

from django.urls import path

from sessions import views

app_name = "sessions"

urlpatterns = [
    path("cases/<int:case_pk>/rooms/", views.rooms, name="rooms"),
]

"""Assignment by the centre: the recommendation page of a case, lead or co-mediator."""

from django.urls import path

from mediators import views_assignment

urlpatterns = [
    path("cases/<int:pk>/assign/", views_assignment.case_assign, name="case_assign"),
]

"""The pool itself: staff pages for the centre's mediator profiles, a mediator's own availability,
and the public roster (在线调解规则 Art 5), all mounted under /pool/ (names ``mediators:…``)."""

from django.urls import path

from mediators import views_roster

urlpatterns = [
    # Public, no login.
    path("roster/", views_roster.public_roster, name="roster"),
    path("roster/<int:mediator_pk>/", views_roster.public_profile, name="roster_profile"),
    # Centre staff; a mediator reaches their own profile (read-only) and availability.
    path("mediators/", views_roster.profile_list, name="profile_list"),
    path("mediators/new/", views_roster.profile_create, name="profile_create"),
    path("my-profile/", views_roster.my_profile, name="my_profile"),
    path("mediators/<int:mediator_pk>/", views_roster.profile_detail, name="profile_detail"),
    path("mediators/<int:mediator_pk>/edit/", views_roster.profile_edit, name="profile_edit"),
    path("mediators/<int:mediator_pk>/status/", views_roster.profile_status, name="profile_status"),
    path("mediators/<int:mediator_pk>/qualifications/new/", views_roster.qualification_add, name="qualification_add"),
    path("qualifications/<int:qualification_pk>/edit/", views_roster.qualification_edit, name="qualification_edit"),
    path(
        "qualifications/<int:qualification_pk>/delete/", views_roster.qualification_delete, name="qualification_delete"
    ),
    path("mediators/<int:mediator_pk>/relationships/new/", views_roster.relationship_add, name="relationship_add"),
    path("relationships/<int:relationship_pk>/edit/", views_roster.relationship_edit, name="relationship_edit"),
    path("relationships/<int:relationship_pk>/delete/", views_roster.relationship_delete, name="relationship_delete"),
    path("mediators/<int:mediator_pk>/availability/", views_roster.availability, name="availability"),
    path("unavailable/<int:unavailable_pk>/delete/", views_roster.unavailable_delete, name="unavailable_delete"),
]

from django.urls import include, path

app_name = "mediators"

urlpatterns = [
    path("", include("mediators.urls_roster")),
    path("", include("mediators.urls_neutrality")),
    path("", include("mediators.urls_assignment")),
    path("", include("mediators.urls_caseload")),
]

from django.urls import path

from apps.launches import views

app_name = "launches"
urlpatterns = [
    path("", views.launch_list, name="list"),
    path("<slug:slug>/", views.launch_overview, name="overview"),
]

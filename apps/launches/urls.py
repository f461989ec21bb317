from django.urls import path

from apps.gates import views as gate_views
from apps.launches import views

app_name = "launches"
urlpatterns = [
    path("", views.launch_list, name="list"),
    path("<slug:slug>/", views.launch_overview, name="overview"),
    path("<slug:slug>/gates/<slug:key>/attest/", gate_views.gate_attest, name="gate-attest"),
]

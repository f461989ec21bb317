"""URL patterns of the rollouts app's pages: `launch_patterns` join apps/launches/urls.py
(namespace "launches"). The deploy tools' API is mounted in apps/api/urls.py."""

from django.urls import path

from apps.rollouts import views

launch_patterns = [
    path("<slug:slug>/war-room/", views.war_room_page, name="war-room"),
    path("<slug:slug>/war-room/live/", views.war_room_live, name="war-room-live"),
    path("<slug:slug>/war-room/start/", views.war_room_start, name="war-room-start"),
    path("<slug:slug>/war-room/roll-back/", views.war_room_roll_back, name="war-room-roll-back"),
]

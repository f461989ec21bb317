"""URL patterns of the rollouts app's pages: `launch_patterns` join the namespace "launches"
(portal/urls.py). The deploy tools' API doors are the API's (apps/api/rollouts.py)."""

from django.urls import path

from apps.rollouts import demo_views, postlaunch_views, views

launch_patterns = [
    path("<slug:slug>/post-launch/", postlaunch_views.post_launch, name="post-launch"),
    path("<slug:slug>/war-room/", views.war_room_page, name="war-room"),
    path("<slug:slug>/war-room/live/", views.war_room_live, name="war-room-live"),
    path("<slug:slug>/war-room/start/", views.war_room_start, name="war-room-start"),
    path("<slug:slug>/war-room/roll-back/", views.war_room_roll_back, name="war-room-roll-back"),
    path("<slug:slug>/demo/launch-day/", demo_views.demo_launch_day, name="demo-launch-day"),
]

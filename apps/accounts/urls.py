from django.urls import path

from apps.accounts import views

urlpatterns = [
    path("invite/", views.invite, name="account_invite"),
    path("invite/<str:uidb64>/<str:token>/", views.accept_invite, name="account_invite_accept"),
]

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("visits/", views.visits, name="visits"),
    path("cached/", views.cached, name="cached"),
    path("sync/", views.sync_view, name="sync"),
    path("async/", views.async_view, name="async"),
]

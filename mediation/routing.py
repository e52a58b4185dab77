"""Websocket routes of every app, gathered like the URLconf gathers their URLs (by module path,
so the core imports nothing from the apps to its right)."""

from typing import Any

from django.utils.module_loading import import_string

APP_ROUTES = ["sessions.routing.websocket_urlpatterns"]

websocket_urlpatterns: list[Any] = [route for dotted in APP_ROUTES for route in import_string(dotted)]

"""Websocket routes of the mediation rooms."""

from django.urls import path

from sessions.consumers import RoomConsumer

websocket_urlpatterns = [path("ws/rooms/<int:room_pk>/", RoomConsumer.as_asgi())]

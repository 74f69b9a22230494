from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/echo/", consumers.EchoConsumer.as_asgi()),
    path("ws/chat/<slug:room>/", consumers.ChatConsumer.as_asgi()),
    path("ws/chat-channels-dispatch/<slug:room>/", consumers.ChatConsumerChannelsDispatch.as_asgi()),
]

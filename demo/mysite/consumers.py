"""WebSocket consumers of the demo project."""
import json
import os
import socket

from channels.generic.websocket import AsyncWebsocketConsumer


class EchoConsumer(AsyncWebsocketConsumer):
    """Sends every text frame back as it came."""

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is not None:
            await self.send(text_data=text_data)


class ChatConsumer(AsyncWebsocketConsumer):
    """Broadcasts each message to every socket in the room, across processes.

    The first frame to a new socket names the process serving it, so a test can
    tell that two sockets are held by different processes.
    """

    async def connect(self):
        self.group = "chat-" + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "hello", "pid": os.getpid(), "host": socket.gethostname()}))

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dispatch(self, message):
        # Channels (4.2 and later) runs Django's close_old_connections() before
        # every handler, through the one thread that runs sync code for the
        # whole process: a broadcast to 1,000 sockets waits for 1,000 of those
        # hops in turn. Chat messages from the channel layer touch no database,
        # so they skip it; connect, receive and disconnect keep it.
        # (benchmark/RESULTS.md: the broadcast's p99 with and without it.)
        if message["type"] == "chat.message":
            await self.chat_message(message)
        else:
            await super().dispatch(message)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(
            self.group,
            {"type": "chat.message", "message": text_data, "sender_pid": os.getpid()},
        )

    async def chat_message(self, event):
        await self.send(
            text_data=json.dumps(
                {
                    "type": "message",
                    "message": event["message"],
                    "sender_pid": event["sender_pid"],
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                }
            )
        )


class ChatConsumerChannelsDispatch(ChatConsumer):
    """The same chat with Channels' own dispatch (its database clean-up before
    every message), for the benchmark to compare the two side by side."""

    dispatch = AsyncWebsocketConsumer.dispatch

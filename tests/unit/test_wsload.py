"""The benchmark's broadcast spreads its subscribers over client processes and
counts every message each of them received. Runs benchmark/wsload.py as a
command against a small chat server on 127.0.0.1 (the demo's protocol: a hello
frame first, then every message sent by anyone, to everyone, as JSON)."""
import asyncio
import json
import subprocess
import sys
import threading

import pytest
import websockets

from conftest import ROOT


class ChatServer:
    """A chat room on 127.0.0.1 in a thread of its own; `drop_after` subscribers
    in, it answers every further handshake with 500."""

    def __init__(self, drop_after=None):
        self.drop_after, self.sockets, self.pids = drop_after, set(), set()
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = asyncio.run_coroutine_threadsafe(self.start(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def start(self):
        return await websockets.serve(self.chat, "127.0.0.1", 0, process_request=self.refuse)

    def refuse(self, connection, request):
        if self.drop_after is not None and len(self.sockets) >= self.drop_after:
            return connection.respond(500, "no more\n")
        return None

    async def chat(self, ws):
        self.sockets.add(ws)
        await ws.send(json.dumps({"type": "hello"}))
        try:
            async for text in ws:
                websockets.broadcast(self.sockets, json.dumps({"type": "message", "message": text}))
        finally:
            self.sockets.discard(ws)

    def close(self):
        self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def chat():
    servers = []

    def start(**kwargs):
        servers.append(ChatServer(**kwargs))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def broadcast(port, *args):
    out = subprocess.run([sys.executable, str(ROOT / "benchmark" / "wsload.py"), "broadcast",
                          f"ws://127.0.0.1:{port}/", *args], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_every_client_process_counts_each_message_on_each_of_its_sockets(chat):
    server = chat()
    result = broadcast(server.port, "--subscribers", "10", "--messages", "3", "--clients", "3")
    # 10 sockets over 3 processes (4, 3, 3), 3 messages each: 30 receipts.
    assert result["clients"] == 3 and result["expected"] == 30
    assert result["received"] == 30, result
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"] < 5000
    assert "error" not in result


def test_a_refused_subscriber_is_reported_not_waited_for(chat):
    server = chat(drop_after=4)
    result = broadcast(server.port, "--subscribers", "10", "--messages", "2", "--clients", "2")
    assert "500" in result["error"], result
    assert result["received"] < result["expected"] == 20

"""The WebSocket drain module (templates/asgi/websocket_drain.py.j2) as an ASGI
middleware, with a fake server: HTTP passes through, a draining process waits
for its WebSockets, then closes them with 1001 and hands the app a disconnect.
The servers' side (Daphne's stop, Uvicorn's shutdown) is proven on test hosts by
molecule/shared/tests/test_release_switch.py."""
import asyncio
import importlib.util
import pathlib

import pytest

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "templates" / "asgi" / "websocket_drain.py.j2"


@pytest.fixture
def drain_module(tmp_path):
    # The first line is the managed-file header (Ansible's `comment` filter);
    # the rest holds no Jinja.
    header, _, text = TEMPLATE.read_text().partition("\n")
    assert header == "{{ ansible_managed | comment }}"
    path = tmp_path / "websocket_drain.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("websocket_drain_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Connection:
    """One fake WebSocket: what the server was sent, and a queue the client feeds."""

    def __init__(self):
        self.incoming = asyncio.Queue()
        self.sent = []

    async def receive(self):
        return await self.incoming.get()

    async def send(self, message):
        self.sent.append(message)


async def echo_consumer(scope, receive, send):
    """Accepts, echoes, and records how it ended (as a Channels consumer would)."""
    scope["ended"] = None
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            scope["ended"] = message["code"]
            await send({"type": "websocket.send", "text": "too late"})  # dropped by the wrapper
            return
        await send({"type": "websocket.send", "text": message["text"]})


def test_http_passes_through(drain_module):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])
        await send({"type": "http.response.start", "status": 204})

    connection = Connection()
    asyncio.run(drain_module.WebSocketDrain(app, 1)({"type": "http"}, connection.receive, connection.send))
    assert seen == ["http"] and connection.sent == [{"type": "http.response.start", "status": 204}]


def test_a_draining_process_closes_its_websockets_with_1001_after_the_drain(drain_module):
    async def scenario():
        wrapped = drain_module.WebSocketDrain(echo_consumer, 0.5)
        connections = [Connection() for _ in range(3)]
        scopes = [{"type": "websocket"} for _ in connections]
        for connection in connections:
            connection.incoming.put_nowait({"type": "websocket.connect"})
        tasks = [asyncio.ensure_future(wrapped(scope, c.receive, c.send)) for scope, c in zip(scopes, connections)]
        await asyncio.sleep(0.1)
        connections[0].incoming.put_nowait({"type": "websocket.receive", "text": "hi"})
        started = asyncio.get_running_loop().time()
        await drain_module.drain(0.5)
        waited = asyncio.get_running_loop().time() - started
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        return connections, scopes, waited

    connections, scopes, waited = asyncio.run(scenario())
    assert 0.5 <= waited < 2
    assert connections[0].sent[:2] == [{"type": "websocket.accept"}, {"type": "websocket.send", "text": "hi"}]
    for connection, scope in zip(connections, scopes):
        assert connection.sent[-1] == {"type": "websocket.close", "code": 1001}
        assert {"type": "websocket.send", "text": "too late"} not in connection.sent
        assert scope["ended"] == 1001


def test_the_drain_ends_when_the_websockets_end_on_their_own(drain_module):
    async def scenario():
        connection = Connection()
        connection.incoming.put_nowait({"type": "websocket.connect"})
        task = asyncio.ensure_future(drain_module.WebSocketDrain(echo_consumer, 30)(
            {"type": "websocket"}, connection.receive, connection.send))
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, connection.incoming.put_nowait, {"type": "websocket.disconnect", "code": 1000})
        started = loop.time()
        await drain_module.drain(30)
        await task
        return connection, loop.time() - started

    connection, waited = asyncio.run(scenario())
    assert waited < 2
    assert {"type": "websocket.close", "code": 1001} not in connection.sent


def test_a_worker_drains_only_while_its_master_still_listens(drain_module):
    """Gunicorn's master closes its listening sockets before it stops its
    workers, and keeps them on a reload: the worker (a child) reads which."""
    import os
    import socket

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    answers = []
    for master_closes in (False, True):
        read_end, write_end = os.pipe()
        go_read, go_write = os.pipe()
        child = os.fork()
        if child == 0:  # the worker: it keeps its own copy of the socket
            os.read(go_read, 1)
            os.write(write_end, b"1" if drain_module._master_listens([listening]) else b"0")
            os._exit(0)
        if master_closes:
            listening.close()
        os.write(go_write, b"x")
        answers.append(os.read(read_end, 1))
        os.waitpid(child, 0)
        for fd in (read_end, write_end, go_read, go_write):
            os.close(fd)
    assert answers == [b"1", b"0"]

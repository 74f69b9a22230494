"""The WebSocket probe of the Molecule tests passes only when it should.

Runs it against small WebSocket servers on 127.0.0.1 that behave like the demo
app, and like broken deployments of it.
"""
import asyncio
import contextlib
import json

import pytest
import websockets

from conftest import load

wsprobe = load("molecule/shared/tests/wsprobe.py", "wsprobe")


@contextlib.asynccontextmanager
async def serve(handler):
    server = await websockets.serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ws/"
    finally:
        server.close()
        await server.wait_closed()


def run_probe(handler, check, *rest, options=()):
    """wsprobe [options] CHECK URL [rest...] against a server running `handler`."""

    async def go():
        async with serve(handler) as url:
            return await asyncio.to_thread(wsprobe.main, [*options, check, url, *rest])

    return asyncio.run(go())


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def shout(ws):
    async for message in ws:
        await ws.send(message.upper())


def chat_room(pids):
    """A chat room whose sockets claim to be served by the given pids, round-robin."""
    members = []
    counter = iter(range(10_000))

    async def handler(ws):
        pid = pids[next(counter) % len(pids)]
        members.append((ws, pid))
        await ws.send(json.dumps({"type": "hello", "pid": pid}))
        async for message in ws:
            for member, member_pid in list(members):
                with contextlib.suppress(websockets.ConnectionClosed):
                    await member.send(json.dumps({"type": "message", "message": message, "pid": member_pid}))

    return handler


def test_echo_passes_when_the_text_comes_back(capsys):
    assert run_probe(echo, "echo", "hello") == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "sent": "hello", "received": "hello"}


def test_echo_fails_when_the_text_comes_back_changed(capsys):
    assert run_probe(shout, "echo", "hello") == 1
    assert json.loads(capsys.readouterr().out)["received"] == "HELLO"


async def impatient(ws):
    """Closes a socket that stays silent for half a second (1011, like a crashed consumer)."""
    try:
        message = await asyncio.wait_for(ws.recv(), 0.5)
    except asyncio.TimeoutError:
        await ws.close(1011)
        return
    await ws.send(message)


def test_idle_echo_passes_when_silence_is_tolerated(capsys):
    assert run_probe(echo, "echo", "hello", "--idle", "1") == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_idle_echo_fails_when_the_server_closes_quiet_sockets(capsys):
    assert run_probe(impatient, "echo", "hello", "--idle", "1") == 1
    assert "1011" in json.loads(capsys.readouterr().out)["error"]


def test_echo_fails_when_nothing_listens(capsys):
    assert wsprobe.main(["--timeout", "2", "echo", "ws://127.0.0.1:9/ws/", "x"]) == 1
    assert "error" in json.loads(capsys.readouterr().out)


def test_chat_passes_when_two_processes_share_the_room(capsys):
    assert run_probe(chat_room([101, 102]), "chat", "--interval", "0") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pids"] == [101, 102]


def test_chat_fails_when_every_socket_lands_on_one_process(capsys):
    assert run_probe(chat_room([101]), "chat", "--max-sockets", "5", "--interval", "0") == 1
    result = json.loads(capsys.readouterr().out)
    assert result["pids"] == [101] and result["sockets_opened"] == 5


def test_chat_fails_when_messages_do_not_cross_processes(capsys):
    """Two processes with the in-memory layer: each only reaches its own sockets."""
    rooms = {101: [], 102: []}
    counter = iter(range(10_000))

    async def isolated(ws):
        pid = (101, 102)[next(counter) % 2]
        rooms[pid].append(ws)
        await ws.send(json.dumps({"type": "hello", "pid": pid}))
        async for message in ws:
            for member in rooms[pid]:
                await member.send(json.dumps({"type": "message", "message": message, "pid": pid}))

    assert run_probe(isolated, "chat", options=("--timeout", "1")) == 1
    assert "TimeoutError" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8000/ws/", "wss://example.org:443/ws/x/"])
def test_origin_matches_the_url(url):
    expected = {"ws": "http", "wss": "https"}[url.split(":")[0]]
    assert wsprobe.origin_of(url).startswith(expected + "://")


def test_chat_waits_for_a_second_process_that_comes_late(capsys):
    """The first sockets all land on one process, as after a restart; later ones do not."""
    assert run_probe(chat_room([101] * 8 + [102]), "chat", "--interval", "0.01") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pids"] == [101, 102] and result["sockets_opened"] == 9

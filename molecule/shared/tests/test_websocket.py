"""WebSockets through nginx: an echo round trip and a chat across processes."""
from conftest import wsprobe


def test_echo_round_trip(host):
    result = wsprobe(host, "echo", "ws://127.0.0.1/ws/echo/", "hello through nginx")
    assert result == {"ok": True, "sent": "hello through nginx", "received": "hello through nginx"}


def test_chat_message_reaches_sockets_held_by_different_processes(host):
    """Two sockets on two server processes: only a shared channel layer joins them."""
    result = wsprobe(host, "chat", "ws://127.0.0.1/ws/chat/lobby/", "--want-pids", "2")
    assert result["ok"], result
    assert len(result["pids"]) == 2
    assert {frame["message"] for frame in result["received"].values()} == {result["message"]}


def test_websocket_from_a_foreign_origin_is_refused(host):
    out = host.run(
        "curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "
        "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' "
        "-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Origin: http://evil.example' "
        "http://127.0.0.1/ws/echo/"
    )
    assert out.stdout == "403"

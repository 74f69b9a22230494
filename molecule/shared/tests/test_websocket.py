"""WebSockets through nginx: an echo round trip and a chat across processes."""
import shlex

from conftest import curl_options, site_url, wsprobe


def test_echo_round_trip(host):
    result = wsprobe(host, "echo", site_url("/ws/echo/", "ws"), "hello through nginx")
    assert result == {"ok": True, "sent": "hello through nginx", "received": "hello through nginx"}


def test_chat_message_reaches_sockets_held_by_different_processes(host):
    """Two sockets on two server processes: only a shared channel layer joins them."""
    result = wsprobe(host, "chat", site_url("/ws/chat/lobby/", "ws"), "--want-pids", "2")
    assert result["ok"], result
    assert len(result["pids"]) == 2
    assert {frame["message"] for frame in result["received"].values()} == {result["message"]}


def test_an_idle_websocket_stays_open(host):
    """Silent for 12 s, then an echo: nothing on the way (nginx, the server, the
    channel layer's Redis reads) may close a socket that is merely quiet."""
    result = wsprobe(host, "--timeout", "20", "echo", site_url("/ws/echo/", "ws"), "still here", "--idle", "12")
    assert result["ok"], result


def test_websocket_from_a_foreign_origin_is_refused(host):
    out = host.run(
        "curl -sS --http1.1 -o /dev/null -w '%{http_code}' --max-time 10 "
        "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' "
        "-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Origin: http://evil.example' "
        + shlex.join([*curl_options(), site_url("/ws/echo/")])
    )
    assert out.stdout == "403"

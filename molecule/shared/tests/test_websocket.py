"""WebSockets through nginx: an echo round trip and a chat across processes."""
import shlex

from conftest import APP, curl_options, poll, site_url, wsprobe


def test_echo_round_trip(host):
    result = wsprobe(host, "echo", site_url("/ws/echo/", "ws"), "hello through nginx")
    assert result == {"ok": True, "sent": "hello through nginx", "received": "hello through nginx"}


def test_chat_message_reaches_sockets_held_by_different_processes(host):
    """Two sockets on two server processes: only a shared channel layer joins them."""
    result = wsprobe(host, "chat", site_url("/ws/chat/lobby/", "ws"), "--want-pids", "2")
    assert result["ok"], result
    assert len(result["pids"]) == 2
    assert {frame["message"] for frame in result["received"].values()} == {result["message"]}


def test_group_messages_go_through_the_chosen_channel_layer(host, host_vars):
    """django_app_channel_layer, as Redis sees it during a chat: the pub/sub
    layer PUBLISHes each group message once to the group's channel; the core
    layer keeps the group as a sorted set and publishes nothing."""
    layer = host_vars.get("django_app_channel_layer", "pubsub")
    # The URL (it may hold Redis's password) is read in the host, never printed.
    monitor = (f"set -a; . /etc/{APP}/env; timeout 10 redis-cli -u \"$DJANGO_APP_REDIS_URL\" monitor "
               "> /tmp/redis-monitor 2>&1 &")
    assert host.run(monitor).rc == 0
    seen = lambda: host.run("cat /tmp/redis-monitor").stdout  # noqa: E731
    assert poll(lambda: "OK" in seen(), 5), "redis-cli monitor did not start"
    result = wsprobe(host, "chat", site_url("/ws/chat/layer/", "ws"), "--want-pids", "2")
    assert result["ok"], result
    host.run("sleep 1; pkill -f 'redis-cli -u .* monitor'")
    commands = seen()
    if layer == "pubsub":
        assert '"PUBLISH" "asgi__group__chat-layer"' in commands, commands[-2000:]
    else:
        assert '"PUBLISH"' not in commands and '"asgi:group:chat-layer"' in commands, commands[-2000:]


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


def test_no_stack_compresses_websocket_frames(host):
    """Browsers offer permessage-deflate in every handshake; no stack agrees to
    it (gunicorn_websocket_per_message_deflate is off, Daphne never does), so no
    frame to any socket costs a compression."""
    origin = site_url("/").rstrip("/")
    handshake = ["curl", "-sS", "-i", "--http1.1", "--max-time", "3", *curl_options(),
                 "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
                 "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-H", f"Origin: {origin}",
                 "-H", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
                 site_url("/ws/echo/")]
    # The socket stays open after the handshake: curl ends at --max-time.
    out = host.run(shlex.join(handshake))
    head = out.stdout.replace("\r\n", "\n").partition("\n\n")[0].lower()
    assert head.startswith("http/1.1 101"), out.stdout + out.stderr
    assert "sec-websocket-extensions" not in head, head

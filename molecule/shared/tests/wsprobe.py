#!/usr/bin/env python3
"""WebSocket probe of the Molecule tests; runs inside the test host.

    wsprobe echo URL TEXT [--idle S]
        One round trip: sends TEXT (after S silent seconds), expects the same text back.
    wsprobe [--cafile CA] [--timeout S] echo|chat ...
        wss:// URLs are verified against CA (the system's CAs without it).
    wsprobe chat URL [--want-pids N] [--max-sockets M] [--interval S] [--key pid|host]
        Opens sockets to a chat room, S seconds apart (at most M of them), until
        N are served by different processes (each socket's first frame names its
        pid; with --key host, by different hosts), sends one message from the
        first, and expects every one of the N to receive it. The spacing gives workers still loading the app after a
        restart the time to start accepting.
    wsprobe hold URL STATUS_FILE [--sockets N] [--seconds S]
        Holds N sockets to an echo URL until STATUS_FILE.stop exists (S seconds
        at most), as a browser would: a socket closed with 1001 (going away)
        reconnects at once and proves the new one with a round trip. STATUS_FILE
        tells, twice a second, how many of the first N are still open and the
        close codes seen; at the end every socket held makes one round trip.

Prints one JSON object and exits 0 when the check passed, 1 when it did not.
Every wait is bounded by --timeout. Needs the `websockets` package (Debian's
python3-websockets).
"""
import argparse
import asyncio
import json
import ssl
import sys
import uuid
from urllib.parse import urlsplit

import websockets


def origin_of(url):
    parts = urlsplit(url)
    return ("https" if parts.scheme == "wss" else "http") + "://" + parts.netloc


CONTEXT = {"ssl": None}


async def connect(url, timeout):
    extra = {"ssl": CONTEXT["ssl"]} if url.startswith("wss:") else {}
    return await websockets.connect(url, origin=origin_of(url), open_timeout=timeout, **extra)


async def echo(args):
    ws = await connect(args.url, args.timeout)
    try:
        await asyncio.sleep(args.idle)
        await ws.send(args.text)
        received = await asyncio.wait_for(ws.recv(), args.timeout)
    finally:
        await ws.close()
    return {"ok": received == args.text, "sent": args.text, "received": received}


async def chat(args):
    opened, by_pid = [], {}
    try:
        for _ in range(args.max_sockets):
            ws = await connect(args.url, args.timeout)
            opened.append(ws)
            hello = json.loads(await asyncio.wait_for(ws.recv(), args.timeout))
            by_pid.setdefault(hello[args.key], ws)
            if len(by_pid) >= args.want_pids:
                break
            await asyncio.sleep(args.interval)
        chosen = list(by_pid.items())[: args.want_pids]
        message = "probe-" + uuid.uuid4().hex
        await chosen[0][1].send(message)
        received = {}
        for pid, ws in chosen:
            frame = json.loads(await asyncio.wait_for(ws.recv(), args.timeout))
            received[str(pid)] = frame
        ok = len(chosen) >= args.want_pids and all(
            frame.get("message") == message for frame in received.values()
        )
        return {
            "ok": ok,
            "pids": sorted(by_pid),
            "sockets_opened": len(opened),
            "message": message,
            "received": received,
        }
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)


async def round_trip(ws, timeout):
    text = "hold-" + uuid.uuid4().hex
    await ws.send(text)
    return await asyncio.wait_for(ws.recv(), timeout) == text


async def hold(args):
    import os
    import time

    state = {"first_open": 0, "closes": {}, "reconnects": 0, "errors": []}
    sockets = []

    async def keep(slot, first):
        ws = sockets[slot]
        if first:
            state["first_open"] += 1
        try:
            await ws.wait_closed()
        finally:
            if first:
                state["first_open"] -= 1
        if stop.is_set():  # closed by the end of the hold
            return
        code = str(ws.close_code)
        state["closes"][code] = state["closes"].get(code, 0) + 1
        if ws.close_code != 1001:
            return
        try:
            sockets[slot] = await connect(args.url, args.timeout)
            state["reconnects"] += 1
            if not await round_trip(sockets[slot], args.timeout):
                state["errors"].append("a reconnected socket did not echo")
        except websockets.ConnectionClosed:
            pass  # closed again before it echoed: the close is checked below
        except Exception as exc:
            state["errors"].append(f"reconnecting: {type(exc).__name__}: {exc}")
            return
        await keep(slot, False)

    stop = asyncio.Event()
    for _ in range(args.sockets):
        sockets.append(await connect(args.url, args.timeout))
    tasks = [asyncio.ensure_future(keep(slot, True)) for slot in range(args.sockets)]
    end = time.monotonic() + args.seconds
    while not os.path.exists(args.status_file + ".stop") and time.monotonic() < end:
        with open(args.status_file + ".tmp", "w", encoding="utf-8") as status:
            json.dump(state, status)
        os.replace(args.status_file + ".tmp", args.status_file)
        await asyncio.sleep(0.5)
    stop.set()
    echoed = 0
    for ws in sockets:
        try:
            echoed += await round_trip(ws, args.timeout)
        except Exception as exc:
            state["errors"].append(f"last round trip: {type(exc).__name__}: {exc}")
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    for task in tasks:
        task.cancel()
    state.update(sockets=args.sockets, echoed_at_end=echoed)
    state["ok"] = not state["errors"] and echoed == args.sockets and set(state["closes"]) <= {"1001"}
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--cafile", help="trust only this CA for wss:// URLs")
    sub = parser.add_subparsers(dest="check", required=True)
    p_echo = sub.add_parser("echo")
    p_echo.add_argument("url")
    p_echo.add_argument("text")
    p_echo.add_argument("--idle", type=float, default=0.0, help="seconds to stay silent before sending")
    p_chat = sub.add_parser("chat")
    p_chat.add_argument("url")
    p_chat.add_argument("--want-pids", type=int, default=2)
    p_chat.add_argument("--max-sockets", type=int, default=100)
    p_chat.add_argument("--interval", type=float, default=0.1)
    p_chat.add_argument("--key", choices=["pid", "host"], default="pid")
    p_hold = sub.add_parser("hold")
    p_hold.add_argument("url")
    p_hold.add_argument("status_file")
    p_hold.add_argument("--sockets", type=int, default=50)
    p_hold.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    if args.cafile:
        CONTEXT["ssl"] = ssl.create_default_context(cafile=args.cafile)
    try:
        result = asyncio.run({"echo": echo, "chat": chat, "hold": hold}[args.check](args))
    except Exception as exc:  # report any failure as a result, for the test to show
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""WebSocket load of the benchmark; runs inside the test host, against 127.0.0.1.

    wsload.py hold URL --target N --batch B --budget S
        Opens WebSockets in batches of B (each batch waits for its handshakes)
        until N are open, one fails, or S seconds have passed; then checks that
        every socket is still open with an echo on a sample of them.
    wsload.py broadcast URL --subscribers N --messages M
        Opens N sockets to one chat room, sends M messages from one of them
        (0.2 s apart), and measures, for every subscriber and message, the time
        from send to receipt: p50, p99, max.

Prints one JSON object. Every wait is bounded. Needs Debian's python3-websockets.
"""
import argparse
import asyncio
import json
import random
import time

import websockets


async def open_one(url, timeout):
    return await websockets.connect(url, origin="http://127.0.0.1", open_timeout=timeout,
                                    ping_interval=None, max_queue=None)


async def hold(args):
    opened, error, started = [], None, time.monotonic()
    while len(opened) < args.target and time.monotonic() - started < args.budget:
        batch = min(args.batch, args.target - len(opened))
        results = await asyncio.gather(*(open_one(args.url, 30) for _ in range(batch)),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                error = error or f"{type(result).__name__}: {result}"
            else:
                opened.append(result)
        if error:
            break
    ramp_s = time.monotonic() - started
    await asyncio.sleep(2)
    sample = random.sample(opened, min(200, len(opened)))

    async def echo(ws, text):
        await ws.send(text)
        return await asyncio.wait_for(ws.recv(), 30) == text

    echoes = await asyncio.gather(*(echo(ws, f"e{i}") for i, ws in enumerate(sample)), return_exceptions=True)
    alive = sum(1 for e in echoes if e is True)
    still_open = sum(1 for ws in opened if ws.state.name == "OPEN")
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return {"target": args.target, "opened": len(opened), "still_open": still_open,
            "echo_sample": len(sample), "echo_ok": alive, "ramp_s": round(ramp_s, 1),
            "first_error": error}


async def broadcast(args):
    sockets = []
    for start in range(0, args.subscribers, 200):
        batch = await asyncio.gather(*(open_one(args.url, 30) for _ in range(min(200, args.subscribers - start))))
        sockets += batch
    for ws in sockets:  # each socket's first frame is the hello naming its process
        await asyncio.wait_for(ws.recv(), 30)
    await asyncio.sleep(1)
    latencies = []

    async def receive(ws, count):
        for _ in range(count):
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            latencies.append(time.time() - float(frame["message"]))

    receivers = [asyncio.create_task(receive(ws, args.messages)) for ws in sockets]
    for _ in range(args.messages):
        await sockets[0].send(repr(time.time()))
        await asyncio.sleep(0.2)
    done, pending = await asyncio.wait(receivers, timeout=60)
    for task in pending:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    latencies.sort()
    expected = args.subscribers * args.messages

    def pct(p):
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None

    return {"subscribers": args.subscribers, "messages": args.messages, "received": len(latencies),
            "expected": expected, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": round(1000 * latencies[-1], 1) if latencies else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="check", required=True)
    p_hold = sub.add_parser("hold")
    p_hold.add_argument("url")
    p_hold.add_argument("--target", type=int, default=10000)
    p_hold.add_argument("--batch", type=int, default=250)
    p_hold.add_argument("--budget", type=float, default=120)
    p_cast = sub.add_parser("broadcast")
    p_cast.add_argument("url")
    p_cast.add_argument("--subscribers", type=int, default=1000)
    p_cast.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    try:
        result = asyncio.run({"hold": hold, "broadcast": broadcast}[args.check](args))
    except Exception as exc:  # report, so the run records what broke
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

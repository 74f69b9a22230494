#!/usr/bin/env python3
"""WebSocket load of the benchmark; runs inside the test host, against 127.0.0.1.

    wsload.py hold URL --target N --batch B --budget S
        Opens WebSockets in batches of B (each batch waits for its handshakes)
        until N are open, one fails, or S seconds have passed; then checks that
        every socket is still open with an echo on a sample of them.
    wsload.py broadcast URL --subscribers N --messages M --clients C
        Opens N sockets to one chat room from C client processes (4 unless
        given), sends M messages from one of them (0.2 s apart), and measures,
        for every subscriber and message, the time from send to receipt: p50,
        p99, max.

Prints one JSON object. Every wait is bounded. Needs Debian's python3-websockets.
"""
import argparse
import asyncio
import json
import multiprocessing
import queue
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


async def subscribe(url, count, messages, send, ready, go):
    """One client process's share of a broadcast: opens `count` sockets to the
    room, tells the parent it is ready, waits for the go, then receives every
    message on each (and sends them, 0.2 s apart, if `send`). Returns the
    latencies it measured, in seconds."""
    sockets = []
    for start in range(0, count, 200):
        sockets += await asyncio.gather(*(open_one(url, 30) for _ in range(min(200, count - start))))
    for ws in sockets:  # each socket's first frame is the hello naming its process
        await asyncio.wait_for(ws.recv(), 30)
    ready.set()
    deadline = time.monotonic() + 120
    while not go.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    latencies = []

    async def receive(ws):
        for _ in range(messages):
            frame = json.loads(await ws.recv())
            latencies.append(time.time() - float(frame["message"]))

    receivers = [asyncio.create_task(receive(ws)) for ws in sockets]
    if send:
        await asyncio.sleep(1)
        for _ in range(messages):
            await sockets[0].send(repr(time.time()))
            await asyncio.sleep(0.2)
    done, pending = await asyncio.wait(receivers, timeout=60)
    for task in pending:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return latencies


def client(url, count, messages, send, ready, go, results):
    """A client process: its latencies, or the error that stopped it."""
    try:
        results.put(asyncio.run(subscribe(url, count, messages, send, ready, go)))
    except Exception as exc:  # the parent reports it
        results.put(f"{type(exc).__name__}: {exc}")
        ready.set()  # the others need not wait for this one


def broadcast(args):
    """Subscribers spread over --clients processes, as they are spread over
    browsers: one process reading 1,000 frames in turn would add its own time
    per frame to the latency of the last ones."""
    context = multiprocessing.get_context("fork")
    go, results = context.Event(), context.Queue()
    shares = [args.subscribers // args.clients + (n < args.subscribers % args.clients) for n in range(args.clients)]
    readies = [context.Event() for _ in shares]
    processes = [context.Process(target=client, args=(args.url, share, args.messages, n == 0, ready, go, results),
                                 daemon=True) for n, (share, ready) in enumerate(zip(shares, readies))]
    for process in processes:
        process.start()
    deadline = time.monotonic() + 120
    for ready in readies:
        ready.wait(max(0.1, deadline - time.monotonic()))
    go.set()
    latencies, errors = [], []
    for _ in processes:
        try:
            outcome = results.get(timeout=180)
        except queue.Empty:
            errors.append("a client process sent no result within 180 s")
            break
        if isinstance(outcome, str):
            errors.append(outcome)
        else:
            latencies += outcome
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()
    latencies.sort()
    expected = args.subscribers * args.messages

    def pct(p):
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None

    result = {"subscribers": args.subscribers, "messages": args.messages, "clients": args.clients,
              "received": len(latencies), "expected": expected, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
              "max_ms": round(1000 * latencies[-1], 1) if latencies else None}
    if errors:
        result["error"] = errors[0]
    return result


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
    p_cast.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    try:
        result = asyncio.run(hold(args)) if args.check == "hold" else broadcast(args)
    except Exception as exc:  # report, so the run records what broke
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""HTTP load of the Molecule tests; runs inside the test host.

    loadgen URL CODES_FILE [--per-second N] [--seconds S] [--max-time T]
            [--cafile CA] [--connect ADDRESS]

GETs URL N times a second, each request on a connection of its own (as a new
client would: nothing is reused across requests), started on time whatever the
answers before it take, until CODES_FILE.stop exists or S seconds have passed;
then waits for the requests under way (T seconds each at most) and exits.
Each answer appends one line to CODES_FILE, as curl's
`-w '%{http_code} %{exitcode} %{time_total}s %{errormsg}'` would:

    200 0 0.004s
    502 0 0.044s
    000 1 30.001s timed out after 30 s

A status counts only when the whole response arrived (to the end of its body):
otherwise the line says what failed after it. https:// URLs are verified
against CA (the system's CAs without it) with the URL's host name;
--connect sends the connection to ADDRESS instead of the URL's host (curl's
--resolve). One process and one event loop for every request: forking a curl
per request cost 10 ms of CPU each, which the test hosts' two vCPUs share with
the servers under test. Standard library only (the test host's python3).
"""
import argparse
import asyncio
import os
import ssl
import sys
import time
from urllib.parse import urlsplit


async def one_request(target, out):
    started = time.monotonic()
    status, code, error = "000", 0, ""
    writer = None
    try:
        async with asyncio.timeout(target.max_time):
            reader, writer = await asyncio.open_connection(
                target.address, target.port, ssl=target.context,
                server_hostname=target.host if target.context else None)
            writer.write(target.request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("iso-8859-1").split("\r\n")
            answered = lines[0].split(" ")[1]
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.read()  # Connection: close: to the end
            if length is not None and len(body) != length:
                raise ConnectionError(f"{len(body)} of {length} body bytes")
            status = answered
    except TimeoutError:
        code, error = 28, f"timed out after {target.max_time:g} s"
    except Exception as failure:  # any other: every request writes its line, none goes uncounted
        code, error = 1, f"{type(failure).__name__}: {failure}"
    finally:
        if writer is not None:
            writer.close()
    out.write(f"{status} {code} {time.monotonic() - started:.6f}s {error}".rstrip() + "\n")
    out.flush()


class Target:
    def __init__(self, args):
        parts = urlsplit(args.url)
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.address = args.connect or self.host
        self.context = ssl.create_default_context(cafile=args.cafile) if parts.scheme == "https" else None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: loadgen\r\n"
                        "Accept: */*\r\nConnection: close\r\n\r\n").encode()
        self.max_time = args.max_time


async def run(args):
    target = Target(args)
    interval = 1 / args.per_second
    start = time.monotonic()
    end = start + args.seconds
    stop = f"{args.codes}.stop"
    pending = set()
    with open(args.codes, "a", encoding="utf-8") as out:
        sent = 0
        while time.monotonic() < end and not os.path.exists(stop):
            task = asyncio.ensure_future(one_request(target, out))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
            # On a fixed schedule: a late start does not shift the ones after it.
            await asyncio.sleep(max(0.0, start + sent * interval - time.monotonic()))
        if pending:
            await asyncio.wait(pending)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("codes")
    parser.add_argument("--per-second", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--max-time", type=float, default=30)
    parser.add_argument("--cafile")
    parser.add_argument("--connect")
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

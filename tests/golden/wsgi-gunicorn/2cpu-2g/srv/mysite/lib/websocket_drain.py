#
# Managed by Ansible (django-stack): local changes will be overwritten.
#
"""WebSocket drain for an ASGI server that is stopping (Uvicorn, Daphne).

A new release restarts the ASGI processes, and the servers' own stop cuts the
WebSockets they hold: Daphne drops them without a close frame (the browser sees
1006), Uvicorn closes them at once with 1012. Wrapped in WebSocketDrain, a
stopping process instead:

1. stops accepting connections (and ends its HTTP keep-alive connections), so
   new ones reach the processes that run on;
2. lets its WebSockets run on for up to `seconds` (they may end on their own);
3. closes the ones still open with 1001 "going away": the client sees a clean
   close and reconnects, and the app's consumer gets its `websocket.disconnect`
   (Channels leaves its groups) as for any other close.

HTTP is passed through untouched. The wrapper needs no change in the project:
the server is pointed at it, and it imports the project's ASGI application.
Variables: none; the server's configuration passes the drain time
(django_app_websocket_drain_seconds) and the app (<project>.asgi:application).

- Daphne: serve `websocket_drain:application` with DJANGO_STACK_ASGI_APPLICATION
  (module:attribute), DJANGO_STACK_WEBSOCKET_DRAIN_SECONDS and
  DJANGO_STACK_LISTEN_BACKLOG (that of the socket it is handed) in the
  environment and this file's directory at the end of PYTHONPATH. The reactor's stop
  waits for the drain (a shutdown trigger, added as the app is imported).
- Gunicorn with Uvicorn workers: the worker serves WebSocketDrain(app, seconds)
  with DrainingServer in place of uvicorn.Server (gunicorn.conf.py does both),
  so a worker retired by a reload drains before Uvicorn closes what is left.
  On a stop or restart, or at max_requests, no other worker takes over at
  once: the WebSockets are closed with 1001 without a drain.
"""

import asyncio
import logging
import os
import time

GOING_AWAY = 1001
# Once closed, a consumer gets this long to return before it is cancelled.
_CLOSE_GRACE = 5.0

logger = logging.getLogger("websocket_drain")
_sessions = set()
_drain_task = None
_daphne_stopping = False


class _Session:
    """One WebSocket: the server's send, and whether it was closed here."""

    def __init__(self, send):
        self.send = send
        self.going_away = asyncio.Event()
        self.closed = False

    async def close(self):
        if not self.closed:
            self.closed = True
            try:
                protocol = getattr(self.send, "args", (None,))[0]
                if hasattr(protocol, "sendCloseFrame"):
                    # Daphne: its send is partial(handle_reply, protocol), and
                    # Autobahn refuses an application's close code other than
                    # 1000 or 3000-4999, so the frame goes out through the
                    # protocol itself (1001 is a server's code, RFC 6455 7.4.1).
                    protocol.sendCloseFrame(code=GOING_AWAY)
                else:
                    await self.send({"type": "websocket.close", "code": GOING_AWAY})
            except Exception:  # the connection went on its own meanwhile
                pass
        self.going_away.set()


class WebSocketDrain:
    """ASGI middleware: drain and close this process's WebSockets as it stops."""

    def __init__(self, app, seconds):
        self.app = app
        self.seconds = float(seconds)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        session = _Session(send)

        async def receive_or_going_away():
            if session.going_away.is_set():
                return {"type": "websocket.disconnect", "code": GOING_AWAY}
            message = asyncio.ensure_future(receive())
            going_away = asyncio.ensure_future(session.going_away.wait())
            await asyncio.wait({message, going_away}, return_when=asyncio.FIRST_COMPLETED)
            going_away.cancel()
            if message.done():
                return message.result()
            message.cancel()
            return {"type": "websocket.disconnect", "code": GOING_AWAY}

        async def send_unless_closed(message):
            if session.closed:  # the app answers after its socket was closed
                return
            if message["type"] == "websocket.close":
                session.closed = True
            await send(message)

        # The app runs in a task of its own, so that a server cancelling this
        # connection as it stops (Daphne) stops this wrapper, not the consumer.
        app = asyncio.ensure_future(self.app(scope, receive_or_going_away, send_unless_closed))
        _sessions.add(session)
        app.add_done_callback(lambda _: _sessions.discard(session))
        try:
            return await asyncio.shield(app)
        except asyncio.CancelledError:
            if not _daphne_stopping or app.done():
                app.cancel()  # cancelled for another reason: so is the app
                raise
            await drain(self.seconds)
            await _finish(app)


async def _finish(app):
    """Give a closed consumer a moment to return, then cancel it."""
    try:
        await asyncio.wait_for(app, _CLOSE_GRACE)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        pass
    except Exception:
        logger.exception("the application failed while its WebSocket closed")


async def drain(seconds):
    """Drain this process's WebSockets (once, however many callers wait)."""
    global _drain_task
    if _drain_task is None:
        _drain_task = asyncio.ensure_future(_drain(seconds))
    await asyncio.shield(_drain_task)


async def _drain(seconds):
    _stop_accepting_daphne()
    deadline = time.monotonic() + seconds
    if _sessions and seconds > 0:
        logger.warning("Draining %d WebSocket(s) for up to %g s", len(_sessions), seconds)
    while _sessions and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        _end_keep_alive()
    if _sessions:
        logger.warning("Closing %d WebSocket(s) with 1001 (going away)", len(_sessions))
    close_deadline = time.monotonic() + _CLOSE_GRACE
    while _sessions and time.monotonic() < close_deadline:
        # Again and again: one that arrived late is closed too.
        await asyncio.gather(*(session.close() for session in list(_sessions) if not session.closed))
        await asyncio.sleep(0.05)


def _stop_accepting_daphne():
    """Take no new work in this Daphne process: stop its listening ports, then
    end its HTTP keep-alive connections. The connections already waiting in a
    port's queue are accepted first and served: the whole group stops at once
    when nginx has moved to the other group's socket (the daphne role), and
    nothing else would take them before Supervisor closes the socket."""
    if not _daphne_stopping:
        return
    from twisted.internet import reactor, tcp

    before = set(reactor.getReaders())
    for reader in before:
        if isinstance(reader, tcp.Port):
            reader.doRead()  # accepts until the queue is empty
            reader.stopListening()
    # Those just accepted have not been read yet: the next round ends them.
    _end_keep_alive(before)


def _end_keep_alive(among=None):
    """End this Daphne process's HTTP keep-alive connections, idle ones now
    and busy ones after their response: nginx reuses them, for WebSocket
    handshakes too, and would otherwise go on sending new work here."""
    if not _daphne_stopping:
        return
    from twisted.internet import reactor
    from twisted.web.http import HTTPChannel

    for reader in reactor.getReaders():
        protocol = getattr(reader, "protocol", None)
        if isinstance(protocol, HTTPChannel) and (among is None or reader in among):
            protocol.persistent = False
            if not protocol.requests:
                reader.loseConnection()


def _watch_daphne(seconds):
    """In Daphne (its reactor is installed before the app is imported), drain
    as the reactor starts to stop, and hold the stop until the drain is over.
    Registered before Daphne's own trigger, which then cancels every
    application (the WebSockets here wait for the drain) but waits only until
    the first of them ends, a cancelled HTTP request for one."""
    import sys

    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import defer, reactor, unix

    # Supervisor owns the program's unix socket: its path, owner and mode. Twisted,
    # adopting it (the `systemd:` endpoint), would chmod that path as it starts
    # listening (the app user may not: only root and nginx enter the directory)
    # and unlink it as it stops (the other processes of the group still serve
    # on it). This process binds no unix socket of its own: Twisted leaves
    # every unix socket path alone here.
    unix._inFilesystemNamespace = lambda path: False
    # Nor its listen backlog: Twisted calls listen() on the adopted socket
    # again, with its default of 50 unless told (DJANGO_STACK_LISTEN_BACKLOG,
    # the socket's backlog in Supervisor's file).
    backlog = int(os.environ.get("DJANGO_STACK_LISTEN_BACKLOG", "0"))
    if backlog > 0:
        start_listening = unix.Port.startListening

        def start_listening_with_backlog(port):
            port.backlog = backlog
            return start_listening(port)

        unix.Port.startListening = start_listening_with_backlog

    supervisord = os.getppid()  # `sh` became Daphne: the parent is supervisord

    def stopping():
        global _daphne_stopping
        _daphne_stopping = True
        # supervisord died (systemd stops what it left behind): no process
        # takes over, so a drain would only delay its restart. Close at once.
        orphaned = os.getppid() != supervisord
        return defer.Deferred.fromFuture(asyncio.ensure_future(drain(0 if orphaned else seconds)))

    reactor.addSystemEventTrigger("before", "shutdown", stopping)


def _uvicorn_server_class():
    from uvicorn.server import Server

    class DrainingServer(Server):
        """uvicorn.Server that drains WebSockets when told to stop by a signal."""

        def __init__(self, config, seconds):
            super().__init__(config)
            self.drain_seconds = float(seconds)

        async def shutdown(self, sockets=None):
            # Drain when told to stop by a signal while the master still
            # listens: a reload, whose new workers take the new connections.
            # On a stop the master has closed its sockets and no worker takes
            # over, and a worker stopping for max_requests is replaced only
            # once it has exited: a drain would only delay them. The WebSockets
            # are then closed with 1001 at once.
            seconds = self.drain_seconds if self.should_exit and _master_listens(sockets or []) else 0
            for server in self.servers:  # stop accepting
                server.close()
            # HTTP connections finish their request and close now.
            for connection in list(self.server_state.connections):
                if type(connection).__module__.startswith("uvicorn.protocols.http"):
                    connection.shutdown()
            await self._drain_alive(seconds)
            await super().shutdown(sockets)

        async def _drain_alive(self, seconds):
            """Drain, telling Gunicorn's master now and then that this worker
            lives (its main loop, which did, has ended): a silent worker is
            killed after Gunicorn's timeout."""
            draining = asyncio.ensure_future(drain(seconds))
            while not draining.done():
                if self.config.callback_notify is not None:
                    await self.config.callback_notify()
                await asyncio.wait({draining}, timeout=1)
            draining.result()

    return DrainingServer


def _master_listens(sockets):
    """Whether Gunicorn's master (this worker's parent) still holds one of the
    worker's listening sockets: it closes them before it stops its workers, and
    keeps them on a reload. When that cannot be read, assume it does."""
    try:
        mine = {os.fstat(sock.fileno()).st_ino for sock in sockets}
        fds = f"/proc/{os.getppid()}/fd"
        held = {os.readlink(f"{fds}/{fd}") for fd in os.listdir(fds)}
    except OSError:
        return True
    return any(f"socket:[{inode}]" in held for inode in mine)


def draining_server(config, seconds):
    """A uvicorn.Server for `config` that drains WebSockets as it stops."""
    return _uvicorn_server_class()(config, seconds)


def _application():
    from importlib import import_module

    module, _, attribute = os.environ["DJANGO_STACK_ASGI_APPLICATION"].partition(":")
    app = getattr(import_module(module), attribute or "application")
    seconds = float(os.environ.get("DJANGO_STACK_WEBSOCKET_DRAIN_SECONDS", "10"))
    _watch_daphne(seconds)
    return WebSocketDrain(app, seconds)


if "DJANGO_STACK_ASGI_APPLICATION" in os.environ:
    application = _application()

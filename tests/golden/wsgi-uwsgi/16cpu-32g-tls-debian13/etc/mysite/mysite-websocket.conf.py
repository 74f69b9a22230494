#
# Managed by Ansible (django-stack): local changes will be overwritten.
#
#
# Gunicorn configuration of mysite-websocket, started by mysite-websocket.service.
#
# Variables (defaults in roles/gunicorn/defaults/main.yml):
#   gunicorn_app            callable served                  (<project>.wsgi:application)
#   gunicorn_worker_class   sync | gthread | uvicorn         (sync)
#   gunicorn_workers        worker processes                 (2 * vCPUs + 1, memory-capped)
#   gunicorn_threads        threads per gthread worker       (1)
#   gunicorn_timeout, gunicorn_graceful_timeout, gunicorn_keepalive   (30, 30, 5)
#   gunicorn_max_requests, gunicorn_max_requests_jitter              (10000, 1000)
#   gunicorn_websocket_per_message_deflate   Uvicorn: compress WebSocket frames (false)
#   gunicorn_bind           address Gunicorn binds itself    (empty: socket activation)
#   django_app_code_dir     the app's directory (chdir)      (/srv/<name>/current/app)
#   django_app_websocket_drain_seconds   a stopping Uvicorn worker's drain   (10)
#   nginx_listen_backlog    the socket's listen backlog      (4096, as nginx's)
#
# No `bind`: systemd owns the unix socket (mysite-websocket.socket) and hands it
# over in LISTEN_FDS, so a restart queues connections instead of refusing them.
# Gunicorn calls listen() again on the socket it is handed, with this backlog
# (the unit's Backlog=, as nginx's listen backlog): without it, its default
# (2048) would replace the unit's, and a burst (every WebSocket of a stopping
# worker reconnecting at once) would meet a shorter queue, then "Resource
# temporarily unavailable" (nginx: 502).
backlog = 4096

wsgi_app = "mysite.asgi:application"
# The app's directory, named through the release link: on a reload (HUP) the
# master changes into it again and new workers import the app through it, so
# they serve the release the link points at now. Without `chdir`, Gunicorn
# keeps the directory it started in, resolved once (the unit also sets $PWD, so
# that the start directory Gunicorn puts on sys.path is the link's name too).
chdir = "/srv/mysite/current/app"
proc_name = "mysite-websocket"
workers = 16

# Uvicorn workers from the uvicorn-worker package (uvicorn.workers is deprecated).
# Django implements no ASGI lifespan, so it is switched off. WebSocket frames are
# compressed (permessage-deflate) only when ws_per_message_deflate is True.
#
# A worker told to stop (a reload starts new workers first, then sends the old
# ones SIGTERM; a restart) stops accepting, lets its WebSockets run on for up to
# WEBSOCKET_DRAIN_SECONDS, then closes them with 1001 "going away" so that
# clients reconnect, to the new workers (websocket_drain.py, next to the app's
# releases). Uvicorn alone would close them at once with 1012. A draining worker
# keeps telling the master it is alive; a stopping master kills it after
# graceful_timeout.
import sys

from gunicorn.arbiter import Arbiter
from uvicorn_worker import UvicornWorker

sys.path.append("/srv/mysite/lib")
from websocket_drain import WebSocketDrain, draining_server  # noqa: E402

WEBSOCKET_DRAIN_SECONDS = 10


class DjangoUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "lifespan": "off",
        "ws_per_message_deflate": True,
    }

    async def _serve(self):
        # UvicornWorker._serve with the app wrapped and a draining server.
        self.config.app = WebSocketDrain(self.wsgi, WEBSOCKET_DRAIN_SECONDS)
        server = draining_server(self.config, WEBSOCKET_DRAIN_SECONDS)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


worker_class = DjangoUvicornWorker

timeout = 30
# gunicorn_graceful_timeout, raised when needed to outlast the WebSocket drain.
graceful_timeout = 30
keepalive = 5

# Recycle workers now and then, each after a different count.
max_requests = 10000
max_requests_jitter = 1000


def post_fork(server, worker):
    """A worker dies with its master (SIGKILL, the OOM killer), so systemd restarts
    the service at once: an orphaned sync worker would otherwise keep waiting on
    the socket for up to timeout / 2 before it noticed."""
    import ctypes
    import os
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server.pid:  # the master died before prctl
        os._exit(1)


# Only nginx can connect (the socket is 0660, group www-data), so
# its X-Forwarded-* headers are trusted. Over a unix socket there is no peer
# address to check: without "*" Uvicorn ignores them (wrong scheme, wrong client).
forwarded_allow_ips = "*"

# Errors to stderr, into the journal; nginx keeps the access log.
errorlog = "-"
loglevel = "info"

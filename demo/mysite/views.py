"""Views of the demo project: a page, a health check, a sync and an async view."""
import asyncio
import os
import socket
import sys
import time

from django.conf import settings
from django.core.cache import cache
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render


def _serving_stack(request):
    """Which interface and server serve this request, read from the process itself."""
    mode = "asgi" if isinstance(request, ASGIRequest) else "wsgi"
    if "uwsgi" in sys.modules:
        server = "uwsgi"
    elif "daphne.server" in sys.modules:
        server = "daphne"
    elif "gunicorn.arbiter" in sys.modules:
        server = "gunicorn"
    elif "uvicorn" in sys.modules:
        server = "uvicorn"
    else:
        server = "unknown"
    worker = "uvicorn" if "uvicorn_worker" in sys.modules else None
    return {"mode": mode, "server": server, "worker": worker}


def _delay_ms(request):
    """The ?ms= query parameter, bounded to 0..1000."""
    try:
        return max(0, min(int(request.GET.get("ms", "0")), 1000))
    except ValueError:
        return 0


def _deployed_stack():
    """What the deploy roles say serves the app (DJANGO_STACK_* variables), if anything."""
    names = ("mode", "server", "process_manager", "workers", "threads", "websocket_workers")
    return {name: os.environ.get("DJANGO_STACK_" + name.upper(), "") for name in names}


def index(request):
    """The front page: what serves it, and a chat whose messages name their processes."""
    return render(
        request,
        "mysite/index.html",
        {**_serving_stack(request), "deployed": _deployed_stack(), "pid": os.getpid()},
    )


def healthz(request):
    return JsonResponse(
        {
            "status": "ok",
            **_serving_stack(request),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "scheme": request.scheme,
            "secure": request.is_secure(),
            "client": request.META.get("REMOTE_ADDR"),
            "debug": settings.DEBUG,
        }
    )


def visits(request):
    """Counts this browser's visits in its session: a row in the database,
    signed with SECRET_KEY. Names the host and the database that answered."""
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JsonResponse(
        {"visits": request.session["visits"], "host": socket.gethostname(), "database": connection.vendor}
    )


def cached(request):
    """A counter in Django's cache. Names the host that answered and the cache's
    backend: with django_app_cache=redis, every process and host counts on."""
    cache.add("demo-cache-counter", 0)
    return JsonResponse(
        {"value": cache.incr("demo-cache-counter"), "host": socket.gethostname(),
         "backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}
    )


def sync_view(request):
    """Blocks its thread for ?ms= milliseconds, like a slow database call."""
    ms = _delay_ms(request)
    time.sleep(ms / 1000)
    return JsonResponse({"view": "sync", "slept_ms": ms, "pid": os.getpid()})


async def async_view(request):
    """Waits ?ms= milliseconds without blocking the event loop."""
    ms = _delay_ms(request)
    await asyncio.sleep(ms / 1000)
    return JsonResponse({"view": "async", "slept_ms": ms, "pid": os.getpid()})

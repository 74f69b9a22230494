#
# Managed by Ansible (django-stack): local changes will be overwritten.
#
#
# Production settings overlay for a Django project, generated so the project
# itself needs no edits: it imports the project's own settings, then overrides
# what a deployment behind nginx must get right.
#
# Variables (defaults in roles/django_app/defaults/main.yml):
#   django_app_settings_module   the project's settings        (mysite.settings)
#   django_app_allowed_hosts     ALLOWED_HOSTS                  ([localhost, 127.0.0.1])
#   django_app_data_dir          where a sqlite database lives  (/var/lib/<name>)
#   django_app_root              STATIC_ROOT, MEDIA_ROOT below  (/srv/<name>)
#   django_app_static_url, django_app_media_url                 (/static/, /media/)
#   django_app_websockets        write CHANNEL_LAYERS           (true)
#   django_app_redis_url         channel layer's Redis, read from $DJANGO_APP_REDIS_URL
#                                (the environment file)         (redis://127.0.0.1:6379/0)
#   django_app_redis_max_connections  pool size per process     (1000)
#   django_app_channel_layer     pubsub | core                  (pubsub)
#   django_app_cache             project | redis                (project)
#   django_app_database          project | postgresql           (project)
#   django_app_database_host, _port, _name, _user                PostgreSQL's
#   django_app_https             served over HTTPS only        (false)
#   django_app_hsts_seconds, django_app_hsts_include_subdomains, django_app_hsts_preload
# The secret key is read from the file named by $DJANGO_SECRET_KEY_FILE, the
# PostgreSQL password from $DJANGO_APP_DATABASE_PASSWORD and the Redis URL (it
# may hold a password) from $DJANGO_APP_REDIS_URL (the environment file): this
# module is readable by everyone on the host.
# Every value is written as a Python literal (JSON strings and lists are
# Python too), so no value can add code to this module.
import asyncio
import os
from pathlib import Path

from django.utils.decorators import sync_and_async_middleware

from mysite.settings import *  # noqa: F401,F403

DEBUG = False
# nginx's '*.example.com' is Django's '.example.com'.
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
SECRET_KEY = Path(os.environ["DJANGO_SECRET_KEY_FILE"]).read_text(encoding="utf-8").strip()

# nginx serves these two prefixes from these two directories. Static files
# belong to a release: the live one's are under the `current` link, and the
# release phase collects a new release's into its own directory
# (DJANGO_APP_STATIC_ROOT) before the link switches to it.
STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("DJANGO_APP_STATIC_ROOT", "/srv/mysite/current/static")
MEDIA_URL = "/media/"
MEDIA_ROOT = "/srv/mysite/media"

# A sqlite database moves out of the (read-only) code into the data directory,
# where it survives redeploys.
for _database in DATABASES.values():  # noqa: F405
    if _database.get("ENGINE") == "django.db.backends.sqlite3":
        _name = str(_database.get("NAME", ""))
        if _name and _name != ":memory:" and not _name.startswith("file:"):
            _database["NAME"] = str(Path("/var/lib/mysite") / Path(_name).name)

# nginx terminates TLS and says so in X-Forwarded-Proto; it overwrites any
# value a client sends, so the header can be trusted.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


# The client's address. nginx sends it as X-Forwarded-For, one address that
# replaces whatever the client sent. A server behind a unix socket has no peer
# address (Gunicorn's REMOTE_ADDR is empty there): the header fills it in when
# the peer is nginx, i.e. no address or a loopback one.
def _client_address(request):
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and request.META.get("REMOTE_ADDR", "") in ("", "127.0.0.1", "::1"):
        request.META["REMOTE_ADDR"] = forwarded.split(",")[-1].strip()


@sync_and_async_middleware
def client_address_middleware(get_response):
    if asyncio.iscoroutinefunction(get_response):
        async def middleware(request):
            _client_address(request)
            return await get_response(request)
    else:
        def middleware(request):
            _client_address(request)
            return get_response(request)
    return middleware


MIDDLEWARE = [__name__ + ".client_address_middleware", *globals().get("MIDDLEWARE", [])]

# Several server processes hold WebSockets: group messages must cross them,
# which the in-memory layer cannot do.
CHANNEL_LAYERS = {
    "default": {
        # One PUBLISH per group message; each process is subscribed once and
        # hands the message to its own consumers.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": os.environ["DJANGO_APP_REDIS_URL"],
                    "max_connections": 1000,
                    # redis-py 8 gives up on a read after 5 s by default, while
                    # channels-redis' receive blocks on Redis for 5 s when idle:
                    # every idle consumer crashed and its WebSocket closed (1011)
                    # (django/channels_redis#422). No client-side read timeout.
                    "socket_timeout": None,
                }
            ],
        },
    }
}

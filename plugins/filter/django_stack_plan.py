"""The planner: which services a mode/server pair runs, and every role's inputs.

    {{ django_stack_planner_inputs | django_stack.deploy.django_stack_plan }}

The input is one flat dictionary of the values the plan depends on (the
django_stack_* inputs, the worker counts already sized from the host, and the
few django_app_* values that name or shape the services; see PLANNER_INPUTS).
The result is plain data: site.yml and playbooks/render.yml hand its parts to
the roles as they are, so the wiring from the plan to the roles exists once.

    mode, server, layout          the pair, and which server plays which part
    gunicorn_instances            every Gunicorn instance a stack of this project may
                                  run, each with state present or absent
    uwsgi_instances               the same for uWSGI (one instance at most)
    daphne_instances              the same for Daphne under Supervisor
    nginx                         nginx_app_address, nginx_app_protocol,
                                  nginx_websocket_address, nginx_proxy_read_timeout
    redis_used                    whether the app uses Redis (the channel layer, the cache)
    redis                         whether Redis runs on this host for it (no URL given)
    python_packages               the servers' Python packages, for django_app
    app_env                       DJANGO_STACK_* variables for the app's environment
"""

# Which server plays which part in each mode/server pair this project deploys:
#   http:      serves plain HTTP
#   websocket: serves WebSockets under the WebSocket path; "http" means the HTTP
#              server does it too, gunicorn_uvicorn a separate Gunicorn instance.
LAYOUTS = {
    "wsgi-gunicorn": {"http": "gunicorn_sync", "websocket": "gunicorn_uvicorn"},
    "wsgi-uwsgi": {"http": "uwsgi", "websocket": "gunicorn_uvicorn"},
    "asgi-gunicorn": {"http": "gunicorn_uvicorn", "websocket": "http"},
    "asgi-daphne": {"http": "daphne", "websocket": "http"},
}

PLANNER_INPUTS = (
    "mode", "server", "app_name", "websockets", "cache", "wsgi_application", "asgi_application",
    "redis_url", "sync_workers", "async_workers", "uwsgi_processes", "uwsgi_threads",
    "sync_worker_class", "gthread_threads", "socket_activation", "gunicorn_port",
    "websocket_port", "app_root", "app_timeout", "python_packages",
)

_BOOL_STRINGS = {"true": True, "yes": True, "on": True, "1": True,
                 "false": False, "no": False, "off": False, "0": False}


def _bool(value):
    if isinstance(value, str):
        if value.strip().lower() not in _BOOL_STRINGS:
            raise ValueError(f"not a boolean: {value!r}")
        return _BOOL_STRINGS[value.strip().lower()]
    return bool(value)


def _state(present):
    return "present" if present else "absent"


def django_stack_plan(inputs):
    """The plan for one host; see the module's docstring."""
    missing = [name for name in PLANNER_INPUTS if name not in inputs]
    if missing:
        raise ValueError(f"django_stack_plan: missing inputs {', '.join(missing)}")
    pair = f"{inputs['mode']}-{inputs['server']}"
    if pair not in LAYOUTS:
        raise ValueError(f"django_stack_plan: {inputs['mode']}/{inputs['server']} is not a stack of this project; "
                         f"valid: {', '.join(p.replace('-', '/') for p in LAYOUTS)}")
    layout = LAYOUTS[pair]
    name = inputs["app_name"]
    websockets = _bool(inputs["websockets"])
    activation = _bool(inputs["socket_activation"])
    timeout = int(inputs["app_timeout"])
    sync_workers, async_workers = int(inputs["sync_workers"]), int(inputs["async_workers"])
    uwsgi_processes, uwsgi_threads = int(inputs["uwsgi_processes"]), int(inputs["uwsgi_threads"])

    http_is_uvicorn = layout["http"] == "gunicorn_uvicorn"
    gthread = not http_is_uvicorn and inputs["sync_worker_class"] == "gthread"
    separate_websocket = websockets and layout["websocket"] == "gunicorn_uvicorn"

    def gunicorn_bind(port):
        return "" if activation else f"127.0.0.1:{port}"

    def gunicorn_address(instance, port):
        return f"unix:{instance['socket']}" if activation else f"127.0.0.1:{port}"

    # Every service a stack of this project may run; the ones the chosen stack does
    # not use are absent (retired once nginx has moved on).
    gunicorn_instances = [
        {
            "name": f"{name}-gunicorn",
            "state": _state(layout["http"] in ("gunicorn_sync", "gunicorn_uvicorn")),
            "app": inputs["asgi_application"] if http_is_uvicorn else inputs["wsgi_application"],
            "worker_class": "uvicorn" if http_is_uvicorn else inputs["sync_worker_class"],
            "workers": async_workers if http_is_uvicorn else sync_workers,
            "threads": int(inputs["gthread_threads"]) if gthread else 1,
            "bind": gunicorn_bind(inputs["gunicorn_port"]),
            "timeout": timeout,
            "socket": f"/run/{name}-gunicorn.sock",
        },
        {
            "name": f"{name}-websocket",
            "state": _state(separate_websocket),
            "app": inputs["asgi_application"],
            "worker_class": "uvicorn",
            "workers": async_workers,
            "threads": 1,
            "bind": gunicorn_bind(inputs["websocket_port"]),
            "timeout": timeout,
            "socket": f"/run/{name}-websocket.sock",
        },
    ]
    uwsgi_instances = [{
        "name": f"{name}-uwsgi",
        "state": _state(layout["http"] == "uwsgi"),
        "app": inputs["wsgi_application"],
        "processes": uwsgi_processes,
        "threads": uwsgi_threads,
        "harakiri": timeout,
        "socket": f"/run/{name}-uwsgi.sock",
    }]
    daphne_instances = [{
        "name": f"{name}-daphne",
        "state": _state(layout["http"] == "daphne"),
        "app": inputs["asgi_application"],
        "processes": async_workers,
        # The link nginx connects through: it names the socket of the program
        # that serves now (the daphne role switches it between two programs).
        "socket": f"{inputs['app_root']}/sockets/{name}-daphne.sock",
        "http_timeout": timeout,
    }]

    http_address = {
        "gunicorn_sync": gunicorn_address(gunicorn_instances[0], inputs["gunicorn_port"]),
        "gunicorn_uvicorn": gunicorn_address(gunicorn_instances[0], inputs["gunicorn_port"]),
        "uwsgi": f"unix:{uwsgi_instances[0]['socket']}",
        "daphne": f"unix:{daphne_instances[0]['socket']}",
    }[layout["http"]]
    if not websockets:
        websocket_address = ""
    elif layout["websocket"] == "http":
        websocket_address = http_address
    else:
        websocket_address = gunicorn_address(gunicorn_instances[1], inputs["websocket_port"])

    running = [i for i in gunicorn_instances if i["state"] == "present"]
    packages = inputs["python_packages"]
    python_packages = (
        (list(packages["gunicorn"]) if running else [])
        + (list(packages["uvicorn"]) if any(i["worker_class"] == "uvicorn" for i in running) else [])
        + (list(packages["uwsgi"]) if layout["http"] == "uwsgi" else [])
        + (list(packages["daphne"]) if layout["http"] == "daphne" else [])
        + (list(packages["channels_redis"]) if websockets else [])
    )

    # What serves the app, told to each of its processes (a status page may show it).
    http_processes = {"gunicorn_sync": sync_workers, "gunicorn_uvicorn": async_workers,
                      "uwsgi": uwsgi_processes, "daphne": async_workers}[layout["http"]]
    http_threads = {"uwsgi": uwsgi_threads, "gunicorn_sync": gunicorn_instances[0]["threads"]}.get(layout["http"], 1)
    if not websockets:
        websocket_processes = 0
    elif layout["websocket"] == "http":
        websocket_processes = http_processes
    else:
        websocket_processes = async_workers
    # The channel layer and, when asked, Django's cache live in Redis.
    redis_used = websockets or inputs["cache"] == "redis"
    app_env = {
        "DJANGO_STACK_MODE": inputs["mode"],
        "DJANGO_STACK_SERVER": inputs["server"],
        "DJANGO_STACK_PROCESS_MANAGER": "supervisor" if layout["http"] == "daphne" else "systemd",
        "DJANGO_STACK_WORKERS": str(http_processes),
        "DJANGO_STACK_THREADS": str(http_threads),
        "DJANGO_STACK_WEBSOCKET_WORKERS": str(websocket_processes),
    }

    return {
        "mode": inputs["mode"],
        "server": inputs["server"],
        "layout": dict(layout),
        "gunicorn_instances": gunicorn_instances,
        "uwsgi_instances": uwsgi_instances,
        "daphne_instances": daphne_instances,
        "nginx": {
            "nginx_app_address": http_address,
            "nginx_app_protocol": "uwsgi" if layout["http"] == "uwsgi" else "http",
            "nginx_websocket_address": websocket_address,
            "nginx_proxy_read_timeout": timeout + 5,
        },
        "redis_used": redis_used,
        "redis": redis_used and len(inputs["redis_url"]) == 0,
        "python_packages": python_packages,
        "app_env": app_env,
    }


def django_stack_layouts(_=None):
    """The mode/server pairs this project deploys, as 'mode/server' strings."""
    return [pair.replace("-", "/") for pair in LAYOUTS]


class FilterModule:
    def filters(self):
        return {"django_stack_plan": django_stack_plan, "django_stack_layouts": django_stack_layouts}

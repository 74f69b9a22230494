"""The planner (plugins/filter/django_stack_plan.py): services, addresses and inputs per stack."""
import pytest

from conftest import load

planner = load("plugins/filter/django_stack_plan.py", "django_stack_plan")
plan = planner.django_stack_plan

# The values Ansible hands over: strings where inventory and templating make them strings.
INPUTS = {
    "mode": "wsgi", "server": "gunicorn", "app_name": "shop", "websockets": True, "cache": "project",
    "wsgi_application": "shop.wsgi:application", "asgi_application": "shop.asgi:application",
    "redis_url": "", "sync_workers": "5", "async_workers": "2", "uwsgi_processes": "5",
    "uwsgi_threads": "2", "sync_worker_class": "sync", "gthread_threads": "4",
    "socket_activation": True, "gunicorn_port": "8000", "websocket_port": "8002",
    "app_root": "/srv/shop", "app_timeout": "30",
    "python_packages": {"gunicorn": ["gunicorn"], "uvicorn": ["uvicorn[standard]", "uvicorn-worker"],
                        "uwsgi": ["pyuwsgi"], "daphne": ["daphne"], "channels_redis": ["channels-redis"]},
}


def stack(mode, server, **changes):
    return plan({**INPUTS, "mode": mode, "server": server, **changes})


def running(result):
    return {i["name"] for key in ("gunicorn_instances", "uwsgi_instances", "daphne_instances")
            for i in result[key] if i["state"] == "present"}


def retired(result):
    return {i["name"] for key in ("gunicorn_instances", "uwsgi_instances", "daphne_instances")
            for i in result[key] if i["state"] == "absent"}


# mode, server, services running, nginx upstream of HTTP, its protocol, upstream of WebSockets
STACKS = [
    ("wsgi", "gunicorn", {"shop-gunicorn", "shop-websocket"},
     "unix:/run/shop-gunicorn.sock", "http", "unix:/run/shop-websocket.sock"),
    ("wsgi", "uwsgi", {"shop-uwsgi", "shop-websocket"},
     "unix:/run/shop-uwsgi.sock", "uwsgi", "unix:/run/shop-websocket.sock"),
    ("asgi", "gunicorn", {"shop-gunicorn"},
     "unix:/run/shop-gunicorn.sock", "http", "unix:/run/shop-gunicorn.sock"),
    ("asgi", "daphne", {"shop-daphne"},
     "unix:/srv/shop/sockets/shop-daphne.sock", "http", "unix:/srv/shop/sockets/shop-daphne.sock"),
]
EVERY_SERVICE = {"shop-gunicorn", "shop-websocket", "shop-uwsgi", "shop-daphne"}


@pytest.mark.parametrize(("mode", "server", "services", "http", "protocol", "websocket"), STACKS)
def test_each_stack_runs_its_services_and_retires_the_others(mode, server, services, http, protocol, websocket):
    result = stack(mode, server)
    assert running(result) == services
    assert retired(result) == EVERY_SERVICE - services
    assert result["nginx"] == {"nginx_app_address": http, "nginx_app_protocol": protocol,
                               "nginx_websocket_address": websocket, "nginx_proxy_read_timeout": 35}


def test_the_http_instance_serves_the_interface_of_the_mode():
    wsgi = stack("wsgi", "gunicorn")["gunicorn_instances"][0]
    asgi = stack("asgi", "gunicorn")["gunicorn_instances"][0]
    assert (wsgi["app"], wsgi["worker_class"], wsgi["workers"]) == ("shop.wsgi:application", "sync", 5)
    assert (asgi["app"], asgi["worker_class"], asgi["workers"]) == ("shop.asgi:application", "uvicorn", 2)
    websocket = stack("wsgi", "uwsgi")["gunicorn_instances"][1]
    assert (websocket["app"], websocket["worker_class"], websocket["workers"]) == ("shop.asgi:application", "uvicorn", 2)
    uwsgi = stack("wsgi", "uwsgi")["uwsgi_instances"][0]
    assert (uwsgi["app"], uwsgi["processes"], uwsgi["threads"], uwsgi["socket"]) == (
        "shop.wsgi:application", 5, 2, "/run/shop-uwsgi.sock")
    daphne = stack("asgi", "daphne")["daphne_instances"][0]
    assert (daphne["app"], daphne["processes"], daphne["socket"]) == (
        "shop.asgi:application", 2, "/srv/shop/sockets/shop-daphne.sock")


def test_gthread_threads_apply_to_sync_workers_only():
    assert stack("wsgi", "gunicorn", sync_worker_class="gthread")["gunicorn_instances"][0]["threads"] == 4
    assert stack("wsgi", "gunicorn")["gunicorn_instances"][0]["threads"] == 1
    asgi = stack("asgi", "gunicorn", sync_worker_class="gthread")["gunicorn_instances"][0]
    assert (asgi["worker_class"], asgi["threads"]) == ("uvicorn", 1)


def test_without_socket_activation_gunicorn_binds_its_loopback_ports():
    result = stack("wsgi", "gunicorn", socket_activation="false")
    assert [i["bind"] for i in result["gunicorn_instances"]] == ["127.0.0.1:8000", "127.0.0.1:8002"]
    assert result["nginx"]["nginx_app_address"] == "127.0.0.1:8000"
    assert result["nginx"]["nginx_websocket_address"] == "127.0.0.1:8002"
    assert [i["bind"] for i in stack("wsgi", "gunicorn")["gunicorn_instances"]] == ["", ""]


def test_without_websockets_nothing_serves_them_and_no_channel_layer_is_installed():
    result = stack("wsgi", "gunicorn", websockets="false")
    assert running(result) == {"shop-gunicorn"}
    assert result["nginx"]["nginx_websocket_address"] == ""
    assert result["redis"] is False and result["redis_used"] is False
    assert result["python_packages"] == ["gunicorn"]
    assert result["app_env"]["DJANGO_STACK_WEBSOCKET_WORKERS"] == "0"


def test_redis_runs_on_the_host_unless_the_app_names_one():
    assert stack("asgi", "daphne")["redis"] is True
    assert stack("asgi", "daphne", redis_url="redis://cache:6379/0")["redis"] is False
    assert stack("asgi", "daphne", redis_url="redis://cache:6379/0")["redis_used"] is True


def test_a_redis_cache_runs_redis_on_the_host_even_without_websockets():
    assert stack("wsgi", "gunicorn", websockets="false", cache="redis")["redis"] is True
    assert stack("wsgi", "gunicorn", websockets="false", cache="redis", redis_url="redis://cache:6379/0")["redis"] is False
    assert stack("wsgi", "gunicorn", websockets="false", cache="redis")["redis_used"] is True
    # The channel layer's package stays with WebSockets; the cache's client is django_app's.
    assert stack("wsgi", "gunicorn", websockets="false", cache="redis")["python_packages"] == ["gunicorn"]


@pytest.mark.parametrize(("mode", "server", "packages"), [
    ("wsgi", "gunicorn", ["gunicorn", "uvicorn[standard]", "uvicorn-worker", "channels-redis"]),
    ("wsgi", "uwsgi", ["gunicorn", "uvicorn[standard]", "uvicorn-worker", "pyuwsgi", "channels-redis"]),
    ("asgi", "gunicorn", ["gunicorn", "uvicorn[standard]", "uvicorn-worker", "channels-redis"]),
    ("asgi", "daphne", ["daphne", "channels-redis"]),
])
def test_only_the_servers_the_stack_runs_are_installed(mode, server, packages):
    assert stack(mode, server)["python_packages"] == packages


@pytest.mark.parametrize(("mode", "server", "env"), [
    ("wsgi", "gunicorn", ("systemd", "5", "1", "2")),
    ("wsgi", "uwsgi", ("systemd", "5", "2", "2")),
    ("asgi", "gunicorn", ("systemd", "2", "1", "2")),
    ("asgi", "daphne", ("supervisor", "2", "1", "2")),
])
def test_the_app_is_told_what_serves_it(mode, server, env):
    app_env = stack(mode, server)["app_env"]
    assert app_env["DJANGO_STACK_MODE"] == mode and app_env["DJANGO_STACK_SERVER"] == server
    assert (app_env["DJANGO_STACK_PROCESS_MANAGER"], app_env["DJANGO_STACK_WORKERS"],
            app_env["DJANGO_STACK_THREADS"], app_env["DJANGO_STACK_WEBSOCKET_WORKERS"]) == env


def test_every_instance_gets_the_app_timeout():
    result = stack("wsgi", "uwsgi", app_timeout="90")
    assert {i["timeout"] for i in result["gunicorn_instances"]} == {90}
    assert result["uwsgi_instances"][0]["harakiri"] == 90
    assert stack("asgi", "daphne", app_timeout="90")["daphne_instances"][0]["http_timeout"] == 90


def test_an_impossible_pair_names_the_valid_ones():
    with pytest.raises(ValueError, match="asgi/uwsgi is not a stack.*wsgi/gunicorn, wsgi/uwsgi, asgi/gunicorn, asgi/daphne"):
        stack("asgi", "uwsgi")
    assert planner.django_stack_layouts() == ["wsgi/gunicorn", "wsgi/uwsgi", "asgi/gunicorn", "asgi/daphne"]


def test_a_missing_input_is_named():
    inputs = dict(INPUTS)
    del inputs["app_root"]
    with pytest.raises(ValueError, match="missing inputs app_root"):
        plan(inputs)


def test_a_boolean_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="not a boolean: 'maybe'"):
        stack("wsgi", "gunicorn", websockets="maybe")


def test_nginx_connects_to_the_socket_each_gunicorn_instance_listens_on():
    result = stack("wsgi", "gunicorn")
    http, websocket = result["gunicorn_instances"]
    assert result["nginx"]["nginx_app_address"] == "unix:" + http["socket"] == "unix:/run/shop-gunicorn.sock"
    assert result["nginx"]["nginx_websocket_address"] == "unix:" + websocket["socket"]

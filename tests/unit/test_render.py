"""playbooks/render.yml against golden files, for every stack and two host sizes.

A change to a template, a default or the plan shows up here as a readable diff.
After a deliberate change, refresh the golden files and review them:

    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_render.py
"""
import difflib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
STACKS = ["wsgi-gunicorn", "wsgi-uwsgi", "asgi-gunicorn", "asgi-daphne"]
# Hosts: a small Debian 12 one, and a large Debian 13 one serving HTTPS, so both
# kinds of site and both releases (nginx 1.22's and 1.26's HTTP/2 syntax) are covered.
# The large one also compresses WebSocket frames, so both settings are rendered.
SIZES = {"2cpu-2g": (2, 2048, []),
         "16cpu-32g-tls-debian13": (16, 32768, ["-e", "nginx_tls_enabled=true", "-e", "render_system=Debian-13",
                                                 "-e", "gunicorn_websocket_per_message_deflate=true"])}
CASES = [(stack, size) for stack in STACKS for size in SIZES]


def render(dest, *extra):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    return subprocess.run(
        ["ansible-playbook", str(ROOT / "playbooks" / "render.yml"), f"-e render_dest={dest}", *extra],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )


def files_under(top):
    return {p.relative_to(top).as_posix(): p.read_text() for p in sorted(top.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """Every case rendered once (in parallel: each run is a separate ansible-playbook)."""
    top = tmp_path_factory.mktemp("rendered")

    def one(case):
        stack, size = case
        mode, server = stack.split("-")
        cpus, memory, extra = SIZES[size]
        result = render(top / stack / size, "-e", f"mode={mode}", "-e", f"server={server}",
                        "-e", f"render_cpus={cpus}", "-e", f"render_memory_mb={memory}", *extra)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        return case, top / stack / size

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, CASES))


@pytest.mark.parametrize(("stack", "size"), CASES)
def test_rendered_files_match_the_golden_files(rendered, stack, size):
    got = files_under(rendered[(stack, size)])
    golden_dir = GOLDEN / stack / size
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden_dir, ignore_errors=True)
        shutil.copytree(rendered[(stack, size)], golden_dir)
    want = files_under(golden_dir)
    assert sorted(got) == sorted(want), "a file appeared or disappeared"
    diffs = [
        "".join(difflib.unified_diff(want[name].splitlines(True), got[name].splitlines(True),
                                     f"golden/{name}", f"rendered/{name}"))
        for name in sorted(got) if got[name] != want[name]
    ]
    assert not diffs, "\n".join(diffs)


def test_each_stack_renders_its_own_servers(rendered):
    names = {case: set(files_under(path)) for case, path in rendered.items()}
    small = "2cpu-2g"
    assert "etc/mysite/mysite-uwsgi.ini" in names[("wsgi-uwsgi", small)]
    assert "etc/supervisor/conf.d/mysite-daphne.conf" in names[("asgi-daphne", small)]
    assert "etc/systemd/system/mysite-websocket.service" in names[("wsgi-gunicorn", small)]
    assert "etc/systemd/system/mysite-websocket.service" not in names[("asgi-gunicorn", small)]


def test_worker_counts_follow_the_host_size(rendered):
    def workers(stack, size):
        text = files_under(rendered[(stack, size)])["etc/mysite/mysite-gunicorn.conf.py"]
        return int(text.split("\nworkers = ")[1].split()[0])

    assert (workers("wsgi-gunicorn", "2cpu-2g"), workers("wsgi-gunicorn", "16cpu-32g-tls-debian13")) == (5, 33)
    assert (workers("asgi-gunicorn", "2cpu-2g"), workers("asgi-gunicorn", "16cpu-32g-tls-debian13")) == (2, 16)


def test_gthread_workers_get_threads(tmp_path):
    result = render(tmp_path, "-e", "django_stack_sync_worker_class=gthread", "-e", "django_stack_gthread_threads=8")
    assert result.returncode == 0, result.stdout[-3000:]
    http = (tmp_path / "etc/mysite/mysite-gunicorn.conf.py").read_text()
    assert 'worker_class = "gthread"' in http and "\nthreads = 8\n" in http
    # The WebSocket instance keeps its Uvicorn workers.
    assert "worker_class = DjangoUvicornWorker" in (tmp_path / "etc/mysite/mysite-websocket.conf.py").read_text()


def test_every_file_says_it_is_managed_and_names_its_variables(rendered):
    for path in rendered.values():
        for name, text in files_under(path).items():
            head = text.splitlines()[:30]
            assert any("Managed by Ansible" in line for line in head[:3]), name
            assert any("Variables" in line for line in head), name


def test_render_needs_a_destination():
    result = render("")
    assert result.returncode != 0
    assert "render_dest" in result.stdout


def test_render_refuses_an_impossible_stack(tmp_path):
    result = render(tmp_path, "-e", "mode=asgi", "-e", "server=uwsgi")
    assert result.returncode != 0
    assert "Valid pairs" in result.stdout
    assert not any(tmp_path.iterdir())


def test_inventory_values_win_over_role_defaults(tmp_path):
    """As in site.yml: each role's defaults are the lowest layer, under the inventory's values."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n"
                         "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
                         "      gunicorn_max_requests: 777\n"
                         "      nginx_client_max_body_size: 3m\n      uwsgi_buffer_size: 65536\n")
    result = render(tmp_path / "wsgi", "-i", str(inventory))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "\nmax_requests = 777\n" in (tmp_path / "wsgi/etc/mysite/mysite-gunicorn.conf.py").read_text()
    assert "client_max_body_size 3m;" in (tmp_path / "wsgi/etc/nginx/sites-available/mysite.conf").read_text()
    result = render(tmp_path / "uwsgi", "-i", str(inventory), "-e", "server=uwsgi")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "buffer-size = 65536" in (tmp_path / "uwsgi/etc/mysite/mysite-uwsgi.ini").read_text()


@pytest.mark.parametrize("value", ["nginx_hsts_max_age=abc", "django_app_redis_max_connections=many"])
def test_a_wrong_input_of_a_later_role_fails_before_any_file(tmp_path, value):
    """Inputs django_stack does not read are checked by django_app's and nginx's check entry points, first."""
    result = render(tmp_path / "tree", "-e", value)
    assert result.returncode != 0
    assert f"argument '{value.split('=')[0]}' is of type str" in result.stdout
    assert "Validating arguments against arg spec 'check'" in result.stdout
    assert not (tmp_path / "tree").exists()

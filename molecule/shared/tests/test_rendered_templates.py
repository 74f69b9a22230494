"""playbooks/render.yml renders exactly what the roles deployed, and it is valid.

Renders the scenario's stack on the controller for this host's system, vCPUs and memory,
then checks, file by file, that the host holds the same bytes (one source of
truth: the templates in templates/), that nginx accepts the rendered nginx
files, and that systemd accepts the rendered units.
"""
import base64
import json
import os
import pathlib
import shlex
import subprocess

import pytest


@pytest.fixture(scope="module")
def rendered(host, stack, host_vars, tmp_path_factory):
    project = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    dest = tmp_path_factory.mktemp("rendered")
    cpus = host.run("nproc").stdout.strip()
    memory_mb = int(host.run("awk '/^MemTotal:/ {print $2}' /proc/meminfo").stdout) // 1024
    nofile = host.run("awk '/^Max open files/ {print $5}' /proc/1/limits").stdout.strip()
    # Its system as platforms/ names it (Debian-12, Debian-13): package paths, nginx version.
    system = "{}-{}".format(host.system_info.distribution.capitalize(), host.system_info.release.split(".")[0])
    # The scenario's own settings of the roles (TLS and the like), as the inventory has them.
    settings = {k: v for k, v in host_vars.items() if k.startswith(("nginx_", "django_app_", "django_stack_"))}
    result = subprocess.run(
        ["ansible-playbook", str(project / "playbooks" / "render.yml"), "-e", f"render_dest={dest}",
         "-e", f"mode={stack['mode']}", "-e", f"server={stack['server']}",
         "-e", f"render_cpus={cpus}", "-e", f"render_memory_mb={memory_mb}",
         "-e", f"render_nofile_limit={nofile}", "-e", f"render_system={system}", "-e", json.dumps(settings)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(project / "ansible.cfg")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return {p.relative_to(dest).as_posix(): p for p in sorted(dest.rglob("*")) if p.is_file()}


def copy_into_host(host, files, target):
    """Copies rendered files into the host under `target` (a test-only directory)."""
    assert host.run(f"rm -rf {target} && mkdir -p {target}").rc == 0
    for relative, path in files.items():
        dest = shlex.quote(f"{target}/{relative}")
        data = base64.b64encode(path.read_bytes()).decode()
        out = host.run(f"mkdir -p $(dirname {dest}) && echo {data} | base64 -d > {dest}")
        assert out.rc == 0, out.stderr


def test_the_host_holds_exactly_what_render_produces(host, rendered):
    assert len(rendered) >= 6
    for relative, path in rendered.items():
        deployed = host.file("/" + relative)
        assert deployed.exists, relative
        assert deployed.content_string == path.read_text(), f"/{relative} differs from the rendered file"


def test_rendered_nginx_files_pass_nginx_t(host, rendered):
    nginx = {k: v for k, v in rendered.items() if k.startswith("etc/nginx/")}
    copy_into_host(host, nginx, "/tmp/rendered")
    for relative in nginx:
        live_name = relative.removeprefix("etc/nginx/").replace("sites-available/", "sites-enabled/")
        check = host.run(f"nginx-check-candidate {live_name} /tmp/rendered/{relative}")
        assert check.rc == 0, check.stderr


def test_rendered_units_pass_systemd_analyze_verify(host, rendered):
    units = {k: v for k, v in rendered.items()
             if k.startswith("etc/systemd/system/") and k.endswith((".service", ".socket"))}
    if not units:
        pytest.skip("this stack renders no units of its own (Daphne runs under Supervisor)")
    copy_into_host(host, units, "/tmp/rendered")
    names = " ".join(f"/tmp/rendered/{k}" for k in units)
    check = host.run(f"cd /tmp/rendered/etc/systemd/system && systemd-analyze verify {names}")
    assert check.rc == 0, check.stdout + check.stderr

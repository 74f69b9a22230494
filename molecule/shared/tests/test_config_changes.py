"""A changed environment reaches the running servers, and no secret is printed.

Rotation: a deploy that changes django_app_env restarts the servers (a reload
keeps the environment the master started with), while requests keep being
answered; every server process then holds the new value. It runs in the
scenarios whose DJANGO_STACK_ONCE names "env_rotation" (one per server).

Secrets: `--check --diff -vvv` with a new secret key and new django_app_env
values prints none of them, nor the ones on the host ("secrets", once).
"""
import base64
import secrets
import shlex

from conftest import APP, app_server_processes, curl_options, json_vars, once, run_site, site_url
from test_values import environ

LOAD = "/tmp/rotation-codes"


@once("env_rotation")
def test_a_rotated_secret_reaches_every_server_process_without_failed_requests(host, host_vars, stack):
    rotated = f"rotated-{secrets.token_hex(8)}"
    env = {**host_vars["django_app_env"], "ROTATED_SECRET": rotated}
    before = {pid for pid, _, _ in app_server_processes(host, stack)}
    # A request every 50 ms from inside the host while the deploy runs.
    curl = shlex.join(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\\n", "--max-time", "20",
                       *curl_options(), site_url("/healthz")])
    script = f"while [ ! -e {LOAD}.stop ]; do {curl}; sleep 0.05; done > {LOAD} 2>&1\n"
    encoded = base64.b64encode(script.encode()).decode()
    assert host.run(f"rm -f {LOAD}.stop && echo {encoded} | base64 -d > {LOAD}.sh").rc == 0
    host.run(f"nohup sh {LOAD}.sh > /dev/null 2>&1 &")
    try:
        result = run_site(*json_vars(django_app_env=env))
    finally:
        host.run(f"touch {LOAD}.stop; sleep 1")
    assert result.returncode == 0, result.stdout[-3000:]
    codes = host.file(LOAD).content_string.split()
    assert len(codes) > 20, codes
    assert set(codes) == {"200"}, {code: codes.count(code) for code in set(codes)}

    processes = app_server_processes(host, stack)
    assert processes and not {pid for pid, _, _ in processes} & before, "every process is new"
    for pid, _, command in processes:
        assert environ(host, pid).get("ROTATED_SECRET") == rotated, command


@once("secrets")
def test_check_diff_vvv_prints_no_secret(host, host_vars):
    deployed_key = host.file(f"/etc/{APP}/secret_key").content_string.strip()
    deployed_env = host.file(f"/etc/{APP}/env").content_string
    assert len(deployed_key) >= 32 and "ODD_" in deployed_env
    new_key = f"new-key-{secrets.token_hex(16)}"
    new_value = f"new-value-{secrets.token_hex(16)}"
    env = {**host_vars["django_app_env"], "API_TOKEN": new_value}
    result = run_site("--check", "--diff", "-vvv",
                      *json_vars(django_app_secret_key=new_key, django_app_env=env))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for secret in [deployed_key, new_key, new_value]:
        assert secret not in output, "a secret was printed"
    for value in host_vars["django_app_env"].values():
        if len(str(value)) >= 8:
            assert str(value) not in output, f"a django_app_env value was printed: {value!r}"
    # The run did look at both files: it would have changed them.
    assert "/etc/mysite/env" in output and "Keep the given secret key" in output
    assert host.file(f"/etc/{APP}/secret_key").content_string.strip() == deployed_key

"""The app's database, as a user sees it: a session counter that survives
requests (a row in the database), in PostgreSQL when the scenario opts into
it (django_app_database: postgresql)."""
import json
import shlex

import pytest
from conftest import APP, curl_options, site_url

COOKIES = "/tmp/test-database-cookies"


def visit(host):
    """GET /visits/ with the cookie jar of one browser; the JSON it answers."""
    out = host.check_output(shlex.join(
        ["curl", "-sS", "--fail", "--http1.1", "--max-time", "15", *curl_options(),
         "-b", COOKIES, "-c", COOKIES, site_url("/visits/")]))
    return json.loads(out)


def test_a_session_counts_one_browsers_visits(host, host_vars):
    host.run(f"rm -f {COOKIES}")
    first, second, third = visit(host), visit(host), visit(host)
    assert [first["visits"], second["visits"], third["visits"]] == [1, 2, 3]
    expected = "postgresql" if host_vars.get("django_app_database") == "postgresql" else "sqlite"
    assert third["database"] == expected


def test_postgresql_holds_the_sessions_and_only_the_app_logs_in(host, host_vars):
    if host_vars.get("django_app_database") != "postgresql":
        pytest.skip("the project's own sqlite (test_a_session_counts_one_browsers_visits)")
    host.run(f"rm -f {COOKIES}")
    visit(host)
    psql = ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-d", APP, "-c"]
    rows = host.check_output(shlex.join(psql + ["SELECT count(*) FROM django_session"]))
    assert int(rows) >= 1
    owner = host.check_output(shlex.join(
        psql + [f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{APP}'"]))
    assert owner == APP
    # Local logins only over the socket (peer): nothing listens beyond localhost.
    listening = host.check_output("ss -Hltn 'sport = :5432'")
    assert listening and all(line.split()[3].startswith(("127.0.0.1:", "[::1]:")) for line in listening.splitlines())
    # No password is involved: the environment file names the socket directory.
    env = host.check_output(f"cat /etc/{APP}/env")
    assert f'DATABASE_URL="postgres://{APP}@%2Fvar%2Frun%2Fpostgresql:5432/{APP}"' in env
    assert host.file(f"/etc/{APP}/env").mode == 0o640

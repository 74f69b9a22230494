"""Wrong input fails before anything on the host changes, and says what is wrong.

Each case runs the real playbook (site.yml) from the controller against this
scenario's host, with one wrong value, and checks: a non-zero exit, a message
naming the variable and what would be valid, and the host exactly as before
(same configuration files, the app still answering).
"""
import pytest

from conftest import fetch, run_site

# Everything the roles write lives here; a checksum of it tells whether anything changed.
WATCHED = "/etc/nginx /etc/systemd/system /etc/mysite /srv/mysite/settings /srv/mysite/app"

CASES = {
    "impossible-pair": (["-e", "mode=asgi", "-e", "server=uwsgi"],
                        ["mode=asgi with server=uwsgi", "Valid pairs", "wsgi/gunicorn, wsgi/uwsgi, asgi/gunicorn, asgi/daphne"]),
    "unknown-mode": (["-e", "mode=fast"], ["mode", "wsgi", "asgi"]),
    "unknown-server": (["-e", "server=nginx-unit"], ["server", "gunicorn", "uwsgi", "daphne"]),
    "missing-src": (["-e", "django_app_src=/nonexistent/project"], ["django_app_src=/nonexistent/project"]),
    "wildcard-host": (["-e", '{"django_app_allowed_hosts": ["*"]}'], ["django_app_allowed_hosts"]),
    "zero-workers": (["-e", "django_stack_sync_workers=0"], ["django_stack_sync_workers=0", ">= 1"]),
    # Passes every check before the roles run, so the nginx role renders it: the
    # candidate must fail nginx -t and leave the live site (and nginx) as they were.
    "invalid-nginx-config": (["-e", '{"nginx_client_max_body_size": "ten megabytes"}'],
                             ["client_max_body_size", "nginx.conf test failed"]),
}


def snapshot(host):
    out = host.run(f"find {WATCHED} -type f -exec sha256sum {{}} + | sort")
    assert out.rc == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early_and_changes_nothing(host, case):
    extra, expected = CASES[case]
    before = snapshot(host)
    result = run_site(*extra)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for text in expected:
        assert text in output, f"{text!r} missing from:\n{output[-3000:]}"
    assert "changed=0" in output, output[-2000:]
    assert snapshot(host) == before
    assert fetch(host, "/healthz").status == 200

"""A load balancer in front of two app hosts that share PostgreSQL, Redis and
the secret key, as a user reaches it: every request goes to the balancer's
HTTPS from inside the balancer (127.0.0.1), or between this scenario's own
containers on the network it created."""
import json
import shlex
import time

from conftest import ADDRESS, APP1, APP2, CERTIFICATE, DATA, LB, PASSWORDS, TRUST, shared

APP = shared.APP


def healthz_hosts(lb, count):
    """The app host that answered each of `count` GETs of /healthz through the balancer."""
    hosts = []
    for _ in range(count):
        response = shared.fetch(lb, "/healthz")
        assert response.status == 200, response.body
        hosts.append(response.json()["host"])
    return hosts


def visit(lb, jar):
    out = lb.check_output(shlex.join(
        ["curl", "-sS", "--fail", "--http1.1", "--max-time", "15", *shared.curl_options(),
         "-b", jar, "-c", jar, shared.site_url("/visits/")]))
    return json.loads(out)


def test_the_balancer_spreads_requests_over_both_app_hosts(lb):
    assert set(healthz_hosts(lb, 10)) == {APP1, APP2}


def test_the_balancer_serves_https_and_http2_and_tells_the_app(lb):
    out = lb.check_output(shlex.join(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", *shared.curl_options(),
         shared.site_url("/healthz")]))
    assert out == "2 200"
    body = shared.fetch(lb, "/healthz").json()
    # Django sees the client's scheme and address (the balancer's own 127.0.0.1
    # here), passed on by the app host's nginx, not the balancer's address.
    assert body["scheme"] == "https" and body["secure"] is True
    assert body["client"] == "127.0.0.1"
    plain = lb.check_output("curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' http://127.0.0.1/healthz "
                            "-H 'Host: localhost'")
    assert plain == "301 https://localhost/healthz"


def test_static_files_come_through_the_balancer(lb):
    response = shared.fetch(lb, "/static/mysite/chat.js")
    assert response.status == 200
    assert "WebSocket" in response.body
    assert response.headers["cache-control"] == ["public"] or "public" in response.headers["cache-control"][-1]


def test_a_session_from_one_app_host_is_kept_by_the_other(lb):
    jar = "/tmp/test-multi-host-cookies"
    lb.run(f"rm -f {jar}")
    answers = [visit(lb, jar) for _ in range(6)]
    # One count across both hosts: the session's row is in the shared
    # PostgreSQL, and its cookie is signed with the shared secret key.
    assert [answer["visits"] for answer in answers] == [1, 2, 3, 4, 5, 6]
    assert {answer["host"] for answer in answers} == {APP1, APP2}
    assert {answer["database"] for answer in answers} == {"postgresql"}


def test_both_app_hosts_share_one_cache(lb):
    """django_app_cache=redis: a counter kept in Django's cache counts on across both hosts."""
    answers = [json.loads(shared.fetch(lb, "/cached/").body) for _ in range(8)]
    values = [answer["value"] for answer in answers]
    assert values == list(range(values[0], values[0] + 8)), answers
    assert {answer["host"] for answer in answers} == {APP1, APP2}
    assert {answer["backend"] for answer in answers} == {"RedisCache"}


def test_a_chat_message_reaches_sockets_on_the_other_app_host(lb):
    result = shared.wsprobe(lb, "chat", shared.site_url("/ws/chat/multi-host/", "ws"), "--key", "host",
                            "--want-pids", "2", "--max-sockets", "20")
    assert result["ok"], result
    assert sorted(result["pids"]) == [APP1, APP2]
    receivers = {frame["host"] for frame in result["received"].values()}
    assert receivers == {APP1, APP2}


def reaches(host, address, port, timeout=3):
    """Whether `host` opens a TCP connection to address:port within `timeout` seconds."""
    probe = (f"import socket; s = socket.create_connection(({address!r}, {port}), timeout={timeout}); "
             "s.sendall(b'PING\\r\\n'); s.settimeout(3); print(s.recv(64))")
    return host.run(f"python3 -c {shlex.quote(probe)}")


def test_postgresql_and_redis_answer_the_app_hosts_only(lb, apps):
    for port in (5432, 6379):
        refused = reaches(lb, ADDRESS[DATA], port)
        assert refused.rc != 0, f"the balancer reached {DATA}:{port}: {refused.stdout}"
        for app in apps:
            reached = reaches(app, ADDRESS[DATA], port)
            assert reached.rc == 0, reached.stderr
    # Redis asks every client for its password, an app host included.
    assert "NOAUTH" in reaches(apps[0], ADDRESS[DATA], 6379).stdout


def test_no_file_everyone_can_read_holds_a_password(apps):
    """The Redis URL and the database password reach the app through the
    environment file (0640 root:<app group>); the settings overlay, which
    everyone on the host can read, reads them from there."""
    places = f"/srv/{APP}/settings /etc/{APP} /etc/systemd/system /etc/supervisor /etc/nginx"
    for app in apps:
        for secret in PASSWORDS:
            found = app.run(f"grep -rlF -- {shlex.quote(secret)} {places} 2>/dev/null").stdout.split()
            assert f"/etc/{APP}/env" in found, (secret, found)
            for path in found:
                assert app.file(path).mode & 0o004 == 0, f"{path} ({oct(app.file(path).mode)}) holds {secret!r}"


def test_the_app_hosts_answer_the_balancer_only(lb, data):
    # As the balancer asks: the site's name as TLS server name and Host.
    # (-k: each app host's certificate is self-signed.)
    def ask(app):
        return f"curl -sk -o /dev/null -w '%{{http_code}}' --resolve localhost:443:{ADDRESS[app]} https://localhost/healthz"

    assert lb.run(ask(APP1)).stdout == "200"
    assert data.run(ask(APP1)).stdout == "403"
    # App host 2's inventory allows the data host too (nginx_allow): the
    # balancer is added to that list, not put in its place.
    assert lb.run(ask(APP2)).stdout == "200"
    assert data.run(ask(APP2)).stdout == "200"


def test_the_balancer_trusts_the_app_hosts_certificates_only(lb, apps):
    """proxy_ssl_verify: the balancer checks each app host's certificate against
    the ones site.yml read from the app hosts; another certificate in their place
    (the balancer's own, self-signed for the same name) and it refuses them."""
    bundle = lb.file(TRUST).content_string
    for app in apps:
        assert app.file(CERTIFICATE).content_string in bundle
    site = lb.file(f"/etc/nginx/sites-available/{APP}.conf").content_string
    assert "proxy_ssl_verify on;" in site and f"proxy_ssl_trusted_certificate {TRUST.removeprefix('/etc/nginx/')};" in site
    assert lb.run(f"cp {TRUST} {TRUST}.saved && cp {CERTIFICATE} {TRUST} && systemctl reload nginx").rc == 0
    try:
        refused = shared.poll(lambda: (r := shared.fetch(lb, "/healthz")).status == 502 and r, 10)
        assert refused, "a certificate the balancer does not trust was accepted"
        assert "upstream SSL certificate verify error" in lb.check_output("tail -n 20 /var/log/nginx/error.log")
    finally:
        lb.run(f"mv {TRUST}.saved {TRUST} && systemctl reload nginx")
    # Served again once the failed hosts' fail_timeout (10 s) has passed.
    assert shared.poll(lambda: shared.fetch(lb, "/healthz").status == 200, 30)


def test_one_app_host_stopped_the_other_serves(lb, apps):
    """GETs through the balancer while app host 1's nginx is stopped, then started again."""
    app1 = apps[0]
    pid = shared.start_load(lb, "/healthz", per_second=20, seconds=60)
    try:
        time.sleep(2)
        app1.run("systemctl stop nginx")
        time.sleep(8)
        during = shared.stop_load(lb, pid)
    finally:
        app1.run("systemctl start nginx")
    # nginx retries a GET the stopped host refused on the other host. (The
    # counts stay on the balancer for the record: /tmp/host-stopped-counts.)
    lb.run(f"echo {shlex.quote(json.dumps(during))} > /tmp/host-stopped-counts")
    assert set(during) == {"200"}, during
    assert shared.poll(lambda: APP1 in healthz_hosts(lb, 6), 30), "app host 1 takes no traffic again"

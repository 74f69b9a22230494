"""HTTP through nginx, as a browser sees it."""
from conftest import fetch, wait_healthy


def test_home_page_renders_and_links_its_stylesheet(host):
    response = fetch(host, "/")
    assert response.status == 200
    assert "<h1>It works</h1>" in response.body
    assert 'href="/static/mysite/site.css"' in response.body


def test_healthz_reports_the_deployed_stack(host, stack):
    response = fetch(host, "/healthz")
    assert response.status == 200
    assert response.headers["content-type"] == ["application/json"]
    health = response.json()
    assert health["status"] == "ok"
    assert health["mode"] == stack["mode"]
    assert health["server"] == stack["server"]
    assert health["debug"] is False
    assert health["client"] == "127.0.0.1"


def test_sync_and_async_views_answer(host):
    for path, view in (("/sync/?ms=20", "sync"), ("/async/?ms=20", "async")):
        response = fetch(host, path)
        assert response.status == 200, path
        body = response.json()
        assert (body["view"], body["slept_ms"]) == (view, 20), path


def test_stylesheet_is_served_with_cache_headers(host):
    response = fetch(host, "/static/mysite/site.css")
    assert response.status == 200
    assert response.headers["content-type"] == ["text/css"]
    assert "demo-stylesheet" in response.body
    assert "public" in response.headers["cache-control"]
    assert any(v.startswith("max-age=") for v in response.headers["cache-control"])


def test_static_files_come_from_nginx_not_from_django(host, stack):
    """With every app server stopped, the stylesheet is still served; pages are not."""
    units = " ".join(stack["units"])
    assert host.run(f"systemctl stop {units}").rc == 0
    try:
        assert fetch(host, "/static/mysite/site.css").status == 200
        assert fetch(host, "/").status == 502
    finally:
        host.run(f"systemctl start {units}")
    if stack["server"] != "daphne":
        # systemd's socket queues the first request while the server starts.
        assert fetch(host, "/healthz").status == 200
    assert wait_healthy(host)


def test_unknown_hosts_get_no_answer(host):
    response = fetch(host, "/", headers={"Host": "attacker.example"})
    # 444: nginx closes the connection ("Empty reply"; over TLS "reset by peer").
    assert response.status == 0
    assert "Empty reply" in response.body or "reset by peer" in response.body, response.body


def test_server_header_hides_the_nginx_version(host):
    assert fetch(host, "/healthz").headers["server"] == ["nginx"]


def test_a_missing_page_is_djangos_404_without_debug_output(host):
    response = fetch(host, "/no-such-page/")
    assert response.status == 404
    assert "Traceback" not in response.body and "URLconf" not in response.body

"""The health probe (plugins/modules/django_app_probe.py) against real servers on 127.0.0.1.

It must reach a site the way a browser does: the Host header and, over HTTPS,
the TLS server name (nginx refuses a handshake for an unknown name), and report
the status and body rather than fail, so that a task can retry on them.
"""
import http.server
import json
import pathlib
import ssl
import subprocess
import sys
import threading

import pytest

MODULE = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "modules" / "django_app_probe.py"


def probe(url, host="example.test"):
    args = {"ANSIBLE_MODULE_ARGS": {"url": url, "host": host, "timeout": 5}}
    out = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), capture_output=True,
                         text=True, check=False)
    return json.loads(out.stdout)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        status = 500 if self.path == "/broken" else 200
        body = f"{self.path} for {self.headers['Host']}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


@pytest.fixture
def tls_server(tmp_path):
    """HTTPS that, like nginx's ssl_reject_handshake, refuses any server name but example.test."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=example.test",
                    "-keyout", str(key), "-out", str(cert), "-days", "1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def only_example(sock, name, ctx):
        return None if name == "example.test" else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    context.sni_callback = only_example
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def test_it_reports_the_status_and_body_with_the_sites_host(server):
    port = server.server_address[1]
    result = probe(f"http://127.0.0.1:{port}/health?x=1")
    assert (result["status"], result["body"], result["changed"]) == (200, "/health?x=1 for example.test", False)
    assert "failed" not in result
    assert probe(f"http://127.0.0.1:{port}/broken")["status"] == 500


def test_over_https_the_handshake_names_the_site(tls_server):
    port = tls_server.server_address[1]
    assert probe(f"https://127.0.0.1:{port}/")["body"] == "/ for example.test"
    refused = probe(f"https://127.0.0.1:{port}/", host="other.test")
    assert refused["status"] == 0 and "UNRECOGNIZED_NAME" in refused["error"].upper()


def test_no_answer_is_status_0_with_the_reason(server):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    result = probe(f"http://127.0.0.1:{port}/")
    assert result["status"] == 0 and "Connection" in result["error"]
    assert "failed" not in result


def probe_repeated(url, expect, repeat):
    args = {"ANSIBLE_MODULE_ARGS": {"url": url, "host": "example.test", "expect": expect, "repeat": repeat,
                                    "interval": 0.1}}
    out = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), capture_output=True,
                         text=True, check=False)
    return json.loads(out.stdout)


def test_healthy_means_every_answer_had_an_expected_status(server):
    port = server.server_address[1]
    good = probe_repeated(f"http://127.0.0.1:{port}/", [200, 404], 3)
    assert good["healthy"] and good["answers"] == [200, 200, 200]
    bad = probe_repeated(f"http://127.0.0.1:{port}/broken", [200, 404], 3)
    # It stops at the first unhealthy answer and reports it.
    assert not bad["healthy"] and bad["answers"] == [500] and bad["status"] == 500

"""The HTTP load generator of the Molecule tests counts a request as answered
only when it was: a whole response with its status. Runs it against small
servers on 127.0.0.1 that answer well, with an error, with a cut body, too
slowly, over TLS, or not at all.
"""
import datetime
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import load

loadgen = load("molecule/shared/tests/loadgen.py", "loadgen")


class Server:
    """A one-thread-per-connection server on 127.0.0.1 whose answer is `reply(request)` bytes."""

    def __init__(self, reply, context=None):
        self.reply, self.context, self.requests = reply, context, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn):
        try:
            if self.context:
                conn = self.context.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.requests.append(data.decode())
            conn.sendall(self.reply(data))
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def response(status, body=b"ok\n", length=None):
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body) if length is None else length}\r\n\r\n"
    return lambda _: head.encode() + body


def run(tmp_path, url, *options):
    codes = tmp_path / "codes"
    assert loadgen.main([*options, "--per-second", "20", "--seconds", "0.5", "--max-time", "1", url, str(codes)]) == 0
    return codes.read_text().splitlines()


@pytest.fixture
def server():
    servers = []

    def start(reply, context=None):
        servers.append(Server(reply, context))
        return servers[-1]

    yield start
    for one in servers:
        one.close()


def test_each_answer_is_one_line_with_its_status(tmp_path, server):
    site = server(response(200))
    lines = run(tmp_path, f"http://127.0.0.1:{site.port}/healthz")
    assert 8 <= len(lines) <= 12, lines
    assert all(line.split(" ")[:2] == ["200", "0"] for line in lines), lines
    # One request per connection, as a new client: nothing reused.
    assert len(site.requests) == len(lines)
    assert all(r.startswith("GET /healthz HTTP/1.1\r\n") and "Connection: close" in r for r in site.requests)


def test_an_error_status_is_written_as_it_came(tmp_path, server):
    site = server(response(502, b"bad gateway"))
    assert {line.split(" ")[0] for line in run(tmp_path, f"http://127.0.0.1:{site.port}/")} == {"502"}


def test_a_cut_body_is_no_answer(tmp_path, server):
    site = server(response(200, b"ok", length=100))
    lines = run(tmp_path, f"http://127.0.0.1:{site.port}/")
    assert lines and all(line.startswith("000 1 ") and "2 of 100 body bytes" in line for line in lines), lines


def test_a_slow_answer_times_out(tmp_path, server):
    site = server(lambda _: time.sleep(3) or response(200)(_))
    lines = run(tmp_path, f"http://127.0.0.1:{site.port}/")
    assert lines and all(line.startswith("000 28 ") and "timed out after 1 s" in line for line in lines), lines


def test_a_refused_connection_is_no_answer(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    lines = run(tmp_path, f"http://127.0.0.1:{port}/")
    assert lines and all(line.startswith("000 1 ") and "ConnectionRefusedError" in line for line in lines), lines


def test_the_stop_file_ends_it(tmp_path, server):
    site = server(response(200))
    codes = tmp_path / "codes"
    (tmp_path / "codes.stop").touch()
    started = time.monotonic()
    assert loadgen.main(["--seconds", "30", f"http://127.0.0.1:{site.port}/", str(codes)]) == 0
    assert time.monotonic() - started < 5
    assert len(codes.read_text().splitlines()) <= 1


def self_signed(tmp_path, name="localhost"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt, pem = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def tls_context(crt, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    return context


def test_https_is_verified_against_the_given_ca_by_the_urls_name(tmp_path, server):
    crt, key = self_signed(tmp_path)
    site = server(response(200), tls_context(crt, key))
    url = f"https://localhost:{site.port}/"
    lines = run(tmp_path, url, "--cafile", str(crt), "--connect", "127.0.0.1")
    assert lines and all(line.startswith("200 0 ") for line in lines), lines
    assert all(f"Host: localhost:{site.port}\r\n" in r for r in site.requests)


def test_https_with_another_ca_is_no_answer(tmp_path, server):
    crt, key = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")
    site = server(response(200), tls_context(crt, key))
    lines = run(tmp_path, f"https://localhost:{site.port}/", "--cafile", str(other), "--connect", "127.0.0.1")
    assert lines and all(line.startswith("000 1 ") and "CERTIFICATE_VERIFY_FAILED" in line for line in lines), lines

"""The demo page in a real browser: headless Chromium (Debian's package) on the
controller, through the port the test host publishes on 127.0.0.1, over HTTPS
and HTTP/2 behind nginx, the chat over wss://.

A browser is the client real users have: it sends its own Origin, upgrades from
an HTTP/2 page to a WebSocket on a connection of its own, refuses ws:// from an
https:// page and logs every failed resource to its console.

It trusts the site's self-signed certificate by its public key only
(--ignore-certificate-errors-spki-list), not by ignoring certificate errors.
Runs in one WSGI and one ASGI scenario (DJANGO_STACK_ONCE names "browser"); the
screenshot of the page is kept in .test-logs/browser-<scenario>.png.
"""
import base64
import hashlib
import os
import re
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conftest import CA_FILE, SITE, once, poll

pytestmark = once("browser")

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "")
CONTAINER = f"django-stack-{SCENARIO}"
ARTIFACTS = os.environ.get(
    "DJANGO_STACK_ARTIFACTS", os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), ".test-logs"))
# site.css sets this colour on h1: the default would be black.
HEADING_COLOUR = "rgba(12, 75, 51, 1)"
WAIT_S = 20


def published_port(container, port):
    """The 127.0.0.1 port Docker publishes the container's `port` on."""
    out = subprocess.run(["docker", "port", container, f"{port}/tcp"],
                         capture_output=True, text=True, check=True).stdout
    address = next(line for line in out.split() if line.startswith("127.0.0.1:"))
    return int(address.rsplit(":", 1)[1])


def spki_sha256(pem):
    """base64 SHA-256 of a certificate's public key: what Chromium pins on."""
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def wait_for(what, check, timeout=WAIT_S):
    value = poll(check, timeout, 0.2)
    assert value, f"waited {timeout} s for {what}"
    return value


@pytest.fixture(scope="module")
def url(host):
    assert SITE["tls"], "the browser test needs the scenario's TLS (nginx_tls_enabled)"
    return f"https://localhost:{published_port(CONTAINER, 443)}/"


@pytest.fixture(scope="module")
def browser(host, url):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    options.add_argument("--headless=new")
    # CI runs as root, where Chromium's own sandbox cannot start.
    options.add_argument("--no-sandbox")
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument("--window-size=900,820")
    options.add_argument("--ignore-certificate-errors-spki-list=" + spki_sha256(host.file(CA_FILE).content_string))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(WAIT_S)
    driver.console = []
    yield driver
    driver.quit()


def text(driver, element_id):
    return driver.find_element("id", element_id).text


def collect_console(driver):
    """Moves the current tab's console entries into driver.console."""
    driver.console += driver.get_log("browser")


MORE_PAGES = 20


def open_page(driver, url):
    """Loads the page in a new tab and waits for its chat socket; returns its pid."""
    if driver.current_url.startswith("http"):
        driver.switch_to.new_window("tab")
    driver.get(url)
    wait_for("the chat to connect", lambda: text(driver, "chat-status") == "connected")
    collect_console(driver)
    return int(driver.find_element("id", "chat-status").get_attribute("data-pid"))


def test_the_page_loads_over_http2_with_the_stylesheet_nginx_serves(browser, url, host_vars):
    open_page(browser, url)
    assert browser.title == "Django behind nginx"
    navigation = browser.execute_script(
        "const [n] = performance.getEntriesByType('navigation'); return [n.name, n.nextHopProtocol];")
    assert navigation == [url, "h2"]
    css = browser.execute_script(
        "return performance.getEntriesByType('resource').filter(r => r.name.endsWith('/site.css'))"
        ".map(r => [r.name, r.nextHopProtocol, r.responseStatus]);")
    assert css == [[url + "static/mysite/site.css", "h2", 200]]
    # The computed style proves the stylesheet applied, not just that it loaded.
    assert browser.find_element("tag name", "h1").value_of_css_property("color") == HEADING_COLOUR
    assert text(browser, "deployed-mode") == host_vars["mode"]
    assert text(browser, "deployed-server") == host_vars["server"]
    manager = "supervisor" if host_vars["server"] == "daphne" else "systemd"
    assert text(browser, "deployed-process-manager") == manager
    assert re.fullmatch(r"[1-9][0-9]*( × [1-9][0-9]* threads)?", text(browser, "deployed-workers"))
    assert re.fullmatch(r"[1-9][0-9]*", text(browser, "deployed-websocket-workers"))


def test_a_message_typed_in_one_page_appears_in_another_served_by_another_process(browser, url):
    # Tabs until two chat sockets are held by different processes (the kernel
    # picks which worker accepts a connection; on a busy machine the same one
    # may win eight times in a row, as two runs side by side showed).
    first_pid = open_page(browser, url)
    first_tab = browser.current_window_handle
    other_tab = other_pid = None
    for _ in range(MORE_PAGES):
        pid = open_page(browser, url)
        if pid != first_pid:
            other_tab, other_pid = browser.current_window_handle, pid
            break
        time.sleep(0.3)
    assert other_tab, f"{MORE_PAGES} more pages all had their socket held by pid {first_pid}"
    assert browser.execute_script("return window.demoChatSocket.url;") == \
        url.replace("https://", "wss://") + "ws/chat/lobby/"

    browser.switch_to.window(first_tab)
    message = f"hello from the browser test {time.time_ns()}"
    browser.find_element("id", "chat-input").send_keys(message)
    browser.find_element("id", "chat-send").click()

    browser.switch_to.window(other_tab)
    line = wait_for("the message in the other page",
                    lambda: next((li.text for li in browser.find_elements("css selector", "#chat-log li")
                                  if message in li.text), None))
    assert line == f"{message} (sent through pid {first_pid}, delivered by pid {other_pid})"
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert browser.save_screenshot(os.path.join(ARTIFACTS, f"browser-{SCENARIO}.png"))
    collect_console(browser)


def test_the_browser_console_has_no_errors(browser):
    for handle in browser.window_handles:
        browser.switch_to.window(handle)
        collect_console(browser)
    errors = [entry for entry in browser.console if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    assert len(browser.window_handles) >= 3

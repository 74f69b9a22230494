#!/usr/bin/python
"""Ask a web server on this host for a page, as a client of one of its sites would."""
import http.client
import socket
import ssl
import time
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: django_app_probe
short_description: GET a page from a server on the host, with the Host (and TLS name) of a site
description:
  - Connects to O(url)'s address and asks for its path with the Host header
    O(host). Over HTTPS the TLS handshake names O(host) too (SNI), so a server
    that refuses unknown names, as nginx does with C(ssl_reject_handshake),
    answers as it would answer a browser. The certificate is not verified, as the
    probe judges the app, not the certificate.
  - Never fails for a status or a refused connection; returns what happened,
    so that a task can retry until the status is one it expects. Changes nothing.
options:
  url:
    description: Scheme, address, port and path, e.g. C(https://127.0.0.1:443/).
    type: str
    required: true
  host:
    description: The site's name, sent as Host and as the TLS server name.
    type: str
    required: true
  timeout:
    description: Seconds to wait for the connection and the answer.
    type: int
    default: 10
  expect:
    description: The statuses of a healthy answer.
    type: list
    elements: int
    default: [200]
  repeat:
    description:
      - How many times to ask, O(interval) seconds apart; healthy only when every
        answer is. Servers that just reloaded may answer from old processes for a
        moment, so one good answer proves little.
    type: int
    default: 1
  interval:
    description: Seconds between two questions.
    type: float
    default: 1.0
author: django-stack
"""

EXAMPLES = r"""
- name: Ask the site for its front page through nginx
  django_stack.deploy.django_app_probe:
    url: https://127.0.0.1:443/
    host: example.com
    expect: [200]
    repeat: 3
  register: probe
  until: probe.healthy
  retries: 5
"""

RETURN = r"""
healthy:
  description: Whether every answer had a status in O(expect).
  returned: always
  type: bool
answers:
  description: The status of each answer, in order (0 when none came).
  returned: always
  type: list
  elements: int
status:
  description: The first status not in O(expect), else the last one; 0 when no answer came (RV(error) says why).
  returned: always
  type: int
body:
  description: The first 2,000 characters of that answer's body.
  returned: always
  type: str
error:
  description: Why no answer came, when none did.
  returned: always
  type: str
"""


class _NamedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address, with another name in the handshake."""

    def __init__(self, address, port, server_name, timeout):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self._server_name)


def probe(url, host, timeout):
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        connection = _NamedHTTPSConnection(parts.hostname, parts.port or 443, host, timeout)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host, "User-Agent": "django-stack health check"})
        response = connection.getresponse()
        body = response.read(2000).decode("utf-8", "replace")
        return {"status": response.status, "body": body, "error": ""}
    except (OSError, http.client.HTTPException) as error:
        return {"status": 0, "body": "", "error": f"{type(error).__name__}: {error}"}
    finally:
        connection.close()


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "host": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 10},
            "expect": {"type": "list", "elements": "int", "default": [200]},
            "repeat": {"type": "int", "default": 1},
            "interval": {"type": "float", "default": 1.0},
        },
        supports_check_mode=True,
    )
    parts = urlsplit(module.params["url"])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        module.fail_json(msg=f"url: {module.params['url']} is not an http:// or https:// URL")
    expect, answers = module.params["expect"], []
    for attempt in range(max(1, module.params["repeat"])):
        if attempt:
            time.sleep(module.params["interval"])
        answer = probe(module.params["url"], module.params["host"], module.params["timeout"])
        answers.append(answer["status"])
        if answer["status"] not in expect:
            break
    module.exit_json(changed=False, healthy=answer["status"] in expect, answers=answers, **answer)


if __name__ == "__main__":
    main()

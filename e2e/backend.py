#!/usr/bin/env python3
"""A contact form in Python, standard library only, protected by TrustCaptcha.

It verifies each token the way any backend does, against the API at TRUSTCAPTCHA_API_HOST:
in the end-to-end tests of this repository that is the fake API, the command trustcaptcha-fake.

    TRUSTCAPTCHA_API_HOST=http://127.0.0.1:8787 \\
    TRUSTCAPTCHA_API_KEY=trustcaptchatest-secret-key \\
    TRUSTCAPTCHA_SITE_KEY=6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b \\
    python3 e2e/backend.py

Settings, from the environment: PORT (default 8000; 0 picks a free one), WIDGET_DIR (a folder
holding the widget's frontendlibrary.esm.js, served at /widget/; without it the page loads the
widget from its CDN, which needs the network). It prints "serving http://127.0.0.1:PORT/" once
it listens.
"""

import base64
import binascii
import html
import http.server
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

API_HOST = os.environ.get("TRUSTCAPTCHA_API_HOST", "https://api.trustcomponent.com").rstrip("/")
API_KEY = os.environ["TRUSTCAPTCHA_API_KEY"].strip()
SITE_KEY = os.environ["TRUSTCAPTCHA_SITE_KEY"]
WIDGET_DIR = os.environ.get("WIDGET_DIR", "")
CDN = "https://cdn.jsdelivr.net/npm/@trustcomponent/trustcaptcha-frontend@3.0.2/dist/frontendlibrary/frontendlibrary.esm.js"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# The answers of GET /v2/verifications/{id}/results that are not a result.
REASONS = {403: "api-key-invalid", 404: "verification-not-found", 410: "result-expired",
           412: "client-failover-unconfirmed", 423: "verification-not-finished",
           429: "retrieval-limit-reached"}


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would carry the secret key to another place."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(NoRedirects)


def verify(token):
    """Returns the reason code of the token's verification: "passed" or why not."""
    try:
        claims = json.loads(base64.b64decode(token, validate=True))
        verification_id = claims["verificationId"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        return "token-invalid"
    if not isinstance(verification_id, str) or not UUID.match(verification_id):
        return "token-invalid"
    url = API_HOST + "/v2/verifications/" + verification_id + "/results"
    if claims.get("clientFailover") is True:
        url += "?clientFailover=true"  # the API answers 412 for such a token only with this query
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + API_KEY,
                                                   "Accept": "application/json"})
    try:
        with OPENER.open(request, timeout=5) as response:
            result = json.load(response)
    except urllib.error.HTTPError as e:
        if e.code >= 500:
            return "server-unreachable"
        return REASONS.get(e.code, "unexpected-response")
    except (urllib.error.URLError, TimeoutError, ValueError):
        return "server-unreachable"
    if result.get("verificationPassed") is not True:
        return "verification-failed"
    if not result.get("score", 1) <= 0.5:  # a bot score: 0 looks human, 1 like a bot
        return "score-too-high"
    return "passed"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Contact (Python)</title>
<script type="module" src="{script}"></script></head>
<body><h1>Contact (Python)</h1>
<form id="contact" method="post" action="/contact">
  <input id="name" name="name" value="Ada">
  <trustcaptcha-component sitekey="{site_key}" api-url="{api_host}"></trustcaptcha-component>
  <button id="send">Send</button>
</form></body></html>
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/":
            script = "/widget/frontendlibrary.esm.js" if WIDGET_DIR else CDN
            self.answer(200, "text/html", PAGE.format(script=html.escape(script),
                                                      site_key=html.escape(SITE_KEY),
                                                      api_host=html.escape(API_HOST)))
        elif WIDGET_DIR and self.path.startswith("/widget/"):
            name = os.path.basename(urllib.parse.urlparse(self.path).path)
            path = os.path.join(WIDGET_DIR, name)
            if not re.match(r"^[\w.-]+$", name) or not os.path.isfile(path):
                self.answer(404, "text/plain", "not found")
                return
            with open(path, "rb") as f:
                self.answer(200, "text/javascript" if name.endswith(".js") else "application/octet-stream", f.read())
        else:
            self.answer(404, "text/plain", "not found")

    def do_POST(self):
        if self.path != "/contact":
            self.answer(404, "text/plain", "not found")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 20:
            self.answer(413, "text/plain", "too large")
            return
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        token = (form.get("tc-verification-token") or [""])[0].strip()
        reason = verify(token) if token else "token-missing"
        if reason != "passed":
            self.answer(400, "text/plain", "Rejected: " + reason)
            return
        name = (form.get("name") or [""])[0]
        self.answer(200, "text/html", '<p id="result">Thanks, ' + html.escape(name) + "!</p>")

    def answer(self, code, content_type, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type + ("; charset=utf-8" if content_type.startswith("text/") else ""))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass  # quiet: the fake's log shows every verification


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Handler)
    print("serving http://127.0.0.1:%d/" % server.server_address[1], flush=True)
    server.serve_forever()

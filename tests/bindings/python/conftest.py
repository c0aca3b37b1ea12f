"""Fixtures for the binding tests: the generated Python module and a real `gridsync serve`.

Run through tools/test-bindings.sh, which builds the server and the library, generates the
bindings and sets GRIDSYNC_BIN and GRIDSYNC_BINDINGS.

The server speaks HTTPS, as a county runs it (ADR 0036), with a self-signed certificate made
here; the phones trust it through the library's configuration (`set_trusted_certificates`) and
this process's HTTP requests through an SSL context. Plain HTTP is covered by the Rust tests.
"""

import atexit
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

BIN = os.environ.get("GRIDSYNC_BIN")
BINDINGS = os.environ.get("GRIDSYNC_BINDINGS")

if not BIN or not BINDINGS:
    raise RuntimeError(
        "run these tests with tools/test-bindings.sh (GRIDSYNC_BIN and GRIDSYNC_BINDINGS unset)"
    )
sys.path.insert(0, BINDINGS)

import gridsync_ffi  # noqa: E402  (generated: the path is known only at run time)



def make_certificate(directory: Path):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert file, key file, cert PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gridsync test server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        # The server's own certificate, not a CA: rustls refuses a CA as the server.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_text(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, pem


# One certificate for the whole run, removed at exit.
_CERT_DIR = Path(tempfile.mkdtemp(prefix="gridsync-tls-"))
atexit.register(shutil.rmtree, _CERT_DIR, True)
TLS_CERT, TLS_KEY, CERT_PEM = make_certificate(_CERT_DIR)
# This process's requests to the server trust the certificate too: every `urlopen` (tests'
# own included) goes through this opener; plain `http://` URLs (the fake gateway, moto) as before.
TLS_CONTEXT = ssl.create_default_context(cafile=str(TLS_CERT))
urllib.request.install_opener(
    urllib.request.build_opener(urllib.request.HTTPSHandler(context=TLS_CONTEXT))
)

PASSWORD = "field-day-Pa55"
VILLAGE = "130322/101/201"
GRID = VILLAGE + "/01"
OTHER_GRID = VILLAGE + "/02"
USERS = {
    "wang": ("grid_worker", GRID),
    "zhao": ("mediator", VILLAGE),
    "chen": ("township_staff", "130322/101"),
}


class Server:
    """One `gridsync serve` on 127.0.0.1 with its own SQLite database; stop and start at will."""

    def __init__(
        self, workdir: Path, blob_store: str = None, env: dict = None, serve_args: list = None
    ):
        self.workdir = workdir
        # Extra `gridsync serve` arguments, e.g. `--sms-config PATH`.
        self.serve_args = list(serve_args or [])
        self.blob_store = blob_store or str(workdir / "blobs")
        self.env = dict(
            os.environ,
            DATABASE_URL=f"sqlite://{workdir / 'gridsync.db'}",
            RUST_LOG="warn",
            GRIDSYNC_PASSWORD=PASSWORD,
            **(env or {}),
        )
        self.proc = None
        self.url = None
        self.log = open(workdir / "server.log", "ab")

    def add_user(self, user: str, role: str, scope: str):
        subprocess.run(
            [BIN, "user", "add", user, "--role", role, "--scope", scope],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def update_user(self, user: str, *args: str):
        subprocess.run(
            [BIN, "user", "update", user, *args],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self):
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            [
                BIN, "serve", "--listen", "127.0.0.1:0", "--blob-store", self.blob_store,
                "--tls-cert", str(TLS_CERT), "--tls-key", str(TLS_KEY),
                *self.serve_args,
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        # The first line says where it listens; wait for it with a bound, not forever.
        found = {}

        proc = self.proc

        def read_stdout():
            # The first line says where it listens; the rest is drained for the server's whole
            # life into the log, so a burst of output never blocks it on a full pipe.
            found["line"] = proc.stdout.readline().decode()
            for raw in proc.stdout:
                self.log.write(raw)
                self.log.flush()

        reader = threading.Thread(target=read_stdout, daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while "line" not in found and time.monotonic() < deadline and reader.is_alive():
            time.sleep(0.05)
        line = found.get("line", "")
        prefix = "gridsync listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"gridsync serve did not start: {line!r}")
        self.url = line[len(prefix):].strip()
        if not self.url.startswith("https://"):
            self.stop()
            raise RuntimeError(f"gridsync serve is not speaking HTTPS: {line!r}")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def login(self, user: str) -> str:
        """Signs in with the JSON API, as a tool would; returns an access token."""
        body = {
            "user": user,
            "password": PASSWORD,
            "device": f"reviewer-{secrets.token_hex(4)}",
            "actor": secrets.token_hex(16),
        }
        return self.post_json("/v1/auth/login", body)["access_token"]

    def post_json(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    def get(self, path: str, token: str) -> dict:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    def request(self, method: str, path: str, body=None, headers: dict = None):
        """Any request; answers (status, body bytes) whatever the status, never raising."""
        data = None if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def console_post(self, path: str, form: dict, cookie: str = None):
        """A console form posted as a browser would, redirects not followed: (status,
        headers)."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        req = urllib.request.Request(
            self.url + path, data=urllib.parse.urlencode(form).encode(), headers=headers
        )
        try:
            opener = urllib.request.build_opener(
                NoRedirect, urllib.request.HTTPSHandler(context=TLS_CONTEXT)
            )
            resp = opener.open(req, timeout=30)
            return resp.status, resp.headers
        except urllib.error.HTTPError as e:
            return e.code, e.headers

    def console_login(self, user: str) -> str:
        """Signs in to the review console with the form, as a browser would; returns the
        `Cookie` header value of the session."""
        status, headers = self.console_post(
            "/console/login", {"user": user, "password": PASSWORD}
        )
        assert status in (302, 303), f"console sign-in of {user} answered {status}"
        for value in headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            if pair.startswith("gs_session="):
                return pair
        raise AssertionError(f"console sign-in of {user} set no session cookie")

    def console_get(self, path: str, cookie: str):
        """A console page with a session cookie: (status, HTML text)."""
        status, body = self.request("GET", path, headers={"Cookie": cookie})
        return status, body.decode("utf-8", "replace")


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    for user, (role, scope) in USERS.items():
        s.add_user(user, role, scope)
    s.start()
    yield s
    s.stop()
    s.log.close()


class FakeGateway:
    """A county SMS gateway on 127.0.0.1 that accepts every outgoing SMS and keeps its body."""

    def __init__(self):
        import http.server

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received.append(self.rfile.read(length).decode("utf-8", "replace"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/send"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


INBOUND_TOKEN = "inbound-secret"


def write_sms_config(path: Path, gateway_url: str) -> Path:
    """The county's SMS settings for `gridsync serve --sms-config` (no quiet hours)."""
    path.write_text(
        "[gateway]\n"
        f'url = "{gateway_url}"\n'
        """body = '{"to": "{to}", "text": "{text}", "id": "{id}"}'\n"""
        'token = "gw-secret"\n'
        "[inbound]\n"
        f'token = "{INBOUND_TOKEN}"\n'
        "[delivery]\n"
        'quiet_hours = ""\n'
        "daily_cap = 20\n"
        'track_url = "https://example.invalid/track"\n'
    )
    return path


@pytest.fixture
def gateway():
    g = FakeGateway()
    yield g
    g.close()


@pytest.fixture
def sms_server(tmp_path, gateway):
    """A server with the county's SMS gateway configured (`--sms-config`)."""
    config = write_sms_config(tmp_path / "sms.toml", gateway.url)
    s = Server(tmp_path, serve_args=["--sms-config", str(config)])
    for user, (role, scope) in USERS.items():
        s.add_user(user, role, scope)
    s.start()
    yield s
    s.stop()
    s.log.close()


@pytest.fixture
def ffi():
    return gridsync_ffi


def trusting(store):
    """The store's transport trusting the test server's certificate, as an app configured for a
    county with its own certificate does after each `open`."""
    store.set_trusted_certificates(CERT_PEM)
    return store


def open_store(path: Path):
    """A phone's store with its own key (a real app keeps it in the Keystore / Keychain),
    trusting the test server's certificate."""
    return trusting(gridsync_ffi.FieldStore.open(str(path), secrets.token_bytes(32)))


def app_request(server, store, method, path, body=None, headers=None):
    """One request as an app that owns its networking makes it for `SyncDriver`: the store's
    own `Authorization`, and the reply as the `HttpReply` the driver is answered with."""
    hdrs = dict(headers or {})
    auth = store.authorization_header()
    if auth:
        hdrs["Authorization"] = auth
    req = urllib.request.Request(
        server.url + path,
        data=None if body is None else bytes(body),
        headers=hdrs,
        method=method,
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, got, data = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, got, data = e.code, e.headers, e.read()
    offset = got.get("Upload-Offset")
    return gridsync_ffi.HttpReply(
        status=status,
        upload_offset=None if offset is None else int(offset),
        upload_complete=got.get("Upload-Complete") == "true",
        body=data,
    )

"""Fixtures for the binding tests: the generated Python module and a real `gridsync serve`.

Run through tools/test-bindings.sh, which builds the server and the library, generates the
bindings and sets GRIDSYNC_BIN and GRIDSYNC_BINDINGS.
"""

import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
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

    def __init__(self, workdir: Path, blob_store: str = None, env: dict = None):
        self.workdir = workdir
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
            [BIN, "serve", "--listen", "127.0.0.1:0", "--blob-store", self.blob_store],
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

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def login(self, user: str) -> str:
        """Signs in over plain HTTP, as the console would; returns an access token."""
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


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    for user, (role, scope) in USERS.items():
        s.add_user(user, role, scope)
    s.start()
    yield s
    s.stop()
    s.log.close()


@pytest.fixture
def ffi():
    return gridsync_ffi


def open_store(path: Path):
    """A phone's store with its own key (a real app keeps it in the Keystore / Keychain)."""
    return gridsync_ffi.FieldStore.open(str(path), secrets.token_bytes(32))

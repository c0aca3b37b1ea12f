"""Photos kept in an S3-compatible bucket (`serve --blob-store s3://BUCKET`), the way a county
deploys several servers: moto's S3 server on 127.0.0.1 stands in for MinIO, OSS or COS."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from conftest import GRID, PASSWORD, USERS, Server, open_store
from test_field_day import camera_photo, credentials, new_case

BUCKET = "gridsync-photos"
KEYS = {"AWS_ACCESS_KEY_ID": "field", "AWS_SECRET_ACCESS_KEY": "day-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(tmp_path):
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert moto, "moto_server is missing: run through tools/test-bindings.sh, which installs it"
    port = free_port()
    log = open(tmp_path / "moto.log", "ab")
    proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"moto_server did not start: {(tmp_path / 'moto.log').read_text()}")
            time.sleep(0.2)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **{
        "aws_access_key_id": KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": KEYS["AWS_SECRET_ACCESS_KEY"],
    })
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_photos_go_to_the_bucket_and_survive_a_server_restart(ffi, s3, tmp_path):
    endpoint, bucket = s3
    env = dict(KEYS, AWS_ENDPOINT=endpoint, AWS_REGION="us-east-1", AWS_ALLOW_HTTP="true")
    server = Server(tmp_path, blob_store=f"s3://{BUCKET}", env=env)
    for user, (role, scope) in USERS.items():
        server.add_user(user, role, scope)
    server.start()
    try:
        wang = open_store(tmp_path / "wang.db")
        zhao = open_store(tmp_path / "zhao.db")
        wang.login(server.url, "wang", PASSWORD)
        zhao.login(server.url, "zhao", PASSWORD)
        photo = tmp_path / "drain.jpg"
        photo.write_bytes(camera_photo())
        case = wang.capture(
            new_case(ffi, kind="incident", jurisdiction=GRID, category="sanitation", title="排水沟堵塞")
        )
        sha = wang.attach_photo(case, str(photo), "排水沟", None, None).sha256
        out = wang.sync(server.url, credentials(ffi, "wang"))
        assert (out.uploaded_attachments, out.pending_uploads) == (1, 0)

        # The bytes are in the bucket, whole, under their name; nothing on the local disk.
        stored = bucket.get_object(Bucket=BUCKET, Key=f"blobs/{sha[:2]}/{sha}")["Body"].read()
        assert stored == photo.read_bytes()
        assert not (tmp_path / "blobs").exists()

        # Another server process on the same database and bucket serves them.
        server.stop()
        server.start()
        seen = zhao.sync(server.url, credentials(ffi, "zhao"))
        assert seen.fetched_thumbnails == 1
        assert zhao.thumbnail(sha)[:3] == b"\xff\xd8\xff"
        keys = {o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert keys == {f"blobs/{sha[:2]}/{sha}", f"thumbs/{sha[:2]}/{sha}"}
        assert zhao.fetch_attachment(server.url, sha) == photo.read_bytes()
    finally:
        server.stop()
        server.log.close()

"""Signed evidence (issue 25, ADR 0028) through the generated Python bindings against a real
`gridsync serve`: a grid worker's phone signs what it captures; the township exports the case's
verifiable record from the console; the phone library checks it offline (`verify_case_export`),
naming who wrote what on which device, and refuses the file with any byte altered; the server's
`gridsync audit verify` passes, and `gridsync case export` writes the same kind of file.
"""

import subprocess

import pytest

from conftest import BIN, GRID, PASSWORD, open_store


def test_a_signed_case_exports_and_verifies_offline(ffi, server, tmp_path):
    wang = open_store(tmp_path / "wang.db")
    key = wang.device_key()
    assert key and len(key) == 43, key  # 32 bytes, base64url without padding
    wang.login(server.url, "wang", PASSWORD)
    case_id = wang.capture(
        ffi.NewCaseRecord(
            kind="incident", jurisdiction=GRID, category="road_damage", title="桥面裂缝",
            description="裂缝约两米", address="", lat=None, lon=None, people=[],
        )
    )
    assert wang.sync(server.url, None).accepted == 1

    chen = server.console_login("chen")
    status, page = server.console_get(f"/console/cases/{case_id}", chen)
    assert status == 200
    assert "已验签" in page and 'id="evidence-link"' in page
    status, file = server.request("GET", f"/console/cases/{case_id}/evidence", headers={"Cookie": chen})
    assert status == 200, file[:200]

    record = ffi.verify_case_export(file)
    assert record.case_id == case_id
    assert record.exported_by == "chen"
    assert len(record.changes) == 1
    change = record.changes[0]
    assert (change.user, change.role, change.device) == ("wang", "grid_worker", wang.device_id())
    assert change.signed_by.startswith(wang.device_id() + " ("), change.signed_by
    assert change.received_at is not None and change.receipt is not None

    # Any altered byte fails: a sample across the file, and the last byte.
    for at in list(range(0, len(file), max(1, len(file) // 50))) + [len(file) - 1]:
        bad = bytearray(file)
        bad[at] ^= 0x01
        with pytest.raises(ffi.FfiError.InvalidInput) as refused:
            ffi.verify_case_export(bytes(bad))
        assert refused.value.field == "export"

    # The operator's side: the chain and every signature hold; the CLI export verifies too.
    audit = subprocess.run([BIN, "audit", "verify"], env=server.env, capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "校验通过" in audit.stdout
    out = tmp_path / "case.gridsync-case"
    subprocess.run([BIN, "case", "export", case_id, "--out", str(out)], env=server.env, check=True,
                   stdout=subprocess.DEVNULL)
    assert ffi.verify_case_export(out.read_bytes()).case_id == case_id

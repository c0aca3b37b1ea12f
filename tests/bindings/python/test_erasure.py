"""Erasure under PIPL (issue 26, ADR 0029) through the generated Python bindings against a real
`gridsync serve`: a mediator's phone captures a dispute with both parties' names; the county
erases its personal data with `gridsync erase`; after the phone's next sync no byte of the names
is recoverable from the server's database files, the phone's store (opened with its key) or a
fresh export — searched for the plaintext, its UTF-8 fragments and every text the stored change
bytes decode to — while the case's status, timeline and the statistics are unchanged. And a
phone offline during the erasure: its later edit merges, its key is dropped at that sync, and
the personal text it wrote offline is refused in effect: sealed under the erased key, which is
gone everywhere, it reads as erased on every copy; what it writes after learning of the erasure
is sealed under a fresh key and readable again.
"""

import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, PASSWORD, VILLAGE, open_store

ERASED = "个人信息已删除"
# Rare characters, used nowhere else in the product, so a hit is theirs.
APPLICANT = "郗翾翎"
RESPONDENT = "亓官彧"
APPLICANT_PHONE = "13907311986"
LATE_PARTY = "禤罡"
AFTER_PARTY = "苌鹓"


def fragments(text: str):
    """The text, each character, and every run of at least five of its UTF-8 bytes (shorter
    runs turn up by chance in ciphertext)."""
    raw = text.encode()
    runs = {raw[i:j] for i in range(len(raw)) for j in range(i + 5, len(raw) + 1)}
    return {raw} | runs | {c.encode() for c in text if ord(c) > 0x2E80}


def db_files(workdir: Path):
    return [p for p in workdir.iterdir() if p.name.startswith("gridsync.db")]


def file_hits(paths, needles):
    hits = []
    for p in paths:
        data = p.read_bytes()
        hits += [(p.name, n.decode("utf-8", "replace")) for n in needles if len(n) >= 5 and n in data]
    return hits


def decoded_server_texts(ffi, workdir: Path):
    """Every text the server's stored change bytes, snapshots and quarantined bytes decode to."""
    db = sqlite3.connect(f"file:{workdir / 'gridsync.db'}?mode=ro", uri=True)
    try:
        texts = []
        for (raw,) in db.execute("SELECT bytes FROM changes"):
            texts += ffi.texts_of_change(raw)
        for (raw,) in db.execute("SELECT snapshot FROM docs"):
            texts += ffi.texts_of_document(raw)
        for (raw,) in db.execute("SELECT bytes FROM quarantine"):
            texts += ffi.texts_of_change(raw)
        return "\n".join(texts)
    finally:
        db.close()


def text_hits(text: str, secrets):
    """Each secret, and each of its rare characters, found in `text`."""
    parts = {p for s in secrets for p in [s, *(c for c in s if ord(c) > 0x2E80)]}
    return sorted(p for p in parts if p in text)


def wrapped_keys(workdir: Path, case_id: str):
    db = sqlite3.connect(f"file:{workdir / 'gridsync.db'}?mode=ro", uri=True)
    try:
        return [bytes(r[0]) for r in db.execute("SELECT wrapped FROM case_keys WHERE case_id = ?", (case_id,))]
    finally:
        db.close()


def erase(server, case_id: str):
    done = subprocess.run(
        [BIN, "erase", "--case", case_id, "--reason", "当事人申请删除", "--by", "liu"],
        env=server.env, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert ERASED in done.stdout, done.stdout
    return done.stdout


def dispute(ffi, title: str):
    return ffi.NewCaseRecord(
        kind="dispute", jurisdiction=VILLAGE, category="dispute_land_boundary", title=title,
        description="两家因宅基地界址发生争执", address="", lat=None, lon=None,
        people=[
            ffi.PartyRecord(name=APPLICANT, role="applicant", phone=APPLICANT_PHONE),
            ffi.PartyRecord(name=RESPONDENT, role="respondent", phone=""),
        ],
    )


def sync_all(store, server):
    out = store.sync(server.url, None)
    # The phone sends its keys with its first push (the sign-in gave it the server's key).
    assert out.rejected == 0, out
    return out


@pytest.fixture
def county(server):
    server.add_user("liu", "county_admin", "130322")
    server.add_user("sun", "mediator", VILLAGE)
    return server


def case_view(server, token, case_id):
    detail = server.get(f"/v1/cases/{case_id}", token)
    return (
        detail["workflow"]["status"],
        detail["case"]["events"],
        sorted(p["name"] for p in detail["case"]["people"]),
        detail["case"]["title"],
    )


def test_an_erased_dispute_leaves_no_byte_of_the_names_anywhere(ffi, county, tmp_path):
    server = county
    zhao = open_store(tmp_path / "zhao.db")
    zhao.login(server.url, "zhao", PASSWORD)
    case_id = zhao.capture(dispute(ffi, "宅基地界址纠纷"))
    zhao.append_event(case_id, ffi.EventKind.ACCEPTED(), "村调委会受理")
    sync_all(zhao, server)

    # Before: the names are readable where they should be — the positive controls that make
    # the searches below able to fail.
    token = server.login("zhao")
    status, events, names, title = case_view(server, token, case_id)
    assert names == sorted([APPLICANT, RESPONDENT])
    readable = "\n".join(zhao.readable_texts())
    assert APPLICANT in readable and RESPONDENT in readable
    keys = wrapped_keys(tmp_path, case_id)
    assert len(keys) == 1, "the phone pushed the case's key with the case"
    # Another deployment's data key, or a malformed one, stops every command at start, named.
    for wrong, says in [("A" * 43, "does not open the stored case keys"), ("not a key!", "not base64url")]:
        refused = subprocess.run([BIN, "user", "list"], env=dict(server.env, GRIDSYNC_DATA_KEY=wrong),
                                 capture_output=True, text=True)
        assert refused.returncode != 0 and says in refused.stderr, refused.stderr
    assert file_hits(db_files(tmp_path), keys), "the wrapped key is in the database files"
    # Sealed in the document: the plain names are in no stored change, even before erasure.
    assert text_hits(decoded_server_texts(ffi, tmp_path), [APPLICANT, RESPONDENT]) == []
    chen = server.login("chen")
    stats_before = server.get("/v1/stats", chen)
    window = f"/v1/stats?from={stats_before['from']}&to={stats_before['to']}"
    stats_before = server.get(window, chen)
    view_before = case_view(server, chen, case_id)[:2]

    print(erase(server, case_id))
    out = sync_all(zhao, server)
    assert out is not None

    # The phone dropped its key: the parties read as erased.
    detail = zhao.get_case(case_id)
    assert [p.name for p in detail.people] == [ERASED, ERASED]
    assert detail.people[0].phone == ERASED
    # The server shows the same, and the case's status, timeline and statistics stand.
    _, _, names, _ = case_view(server, token, case_id)
    assert names == [ERASED, ERASED]
    assert case_view(server, chen, case_id)[:2] == view_before
    assert server.get(window, chen) == stats_before

    secrets_ = [APPLICANT, RESPONDENT, APPLICANT_PHONE]
    needles = set().union(*(fragments(s) for s in secrets_))
    # Server: the database and its write-ahead log, byte for byte and decoded; the key is gone.
    assert wrapped_keys(tmp_path, case_id) == []
    assert file_hits(db_files(tmp_path), keys) == []
    assert file_hits(db_files(tmp_path), needles) == []
    assert text_hits(decoded_server_texts(ffi, tmp_path), secrets_) == []
    # Phone: the file, and everything its key opens.
    phone_files = [p for p in tmp_path.iterdir() if p.name.startswith("zhao.db")]
    assert file_hits(phone_files, needles) == []
    assert text_hits("\n".join(zhao.readable_texts()), secrets_) == []
    # A fresh export: its bytes, and every change it carries verifies still.
    export = tmp_path / "case.gridsync-case"
    subprocess.run([BIN, "case", "export", case_id, "--out", str(export)], env=server.env,
                   check=True, stdout=subprocess.DEVNULL)
    assert file_hits([export], needles) == []
    assert len(ffi.verify_case_export(export.read_bytes()).changes) >= 2
    audit = subprocess.run([BIN, "audit", "verify"], env=server.env, capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr

    # Erasure is for county administrators only.
    refused = subprocess.run(
        [BIN, "erase", "--case", case_id, "--reason", "x", "--by", "chen"],
        env=server.env, capture_output=True, text=True,
    )
    assert refused.returncode != 0 and "county administrator" in refused.stderr


def test_a_phone_offline_during_the_erasure_merges_and_its_offline_names_are_erased(
    ffi, county, tmp_path
):
    server = county
    zhao = open_store(tmp_path / "zhao.db")
    zhao.login(server.url, "zhao", PASSWORD)
    case_id = zhao.capture(dispute(ffi, "承包地边界纠纷"))
    sync_all(zhao, server)
    sun = open_store(tmp_path / "sun.db")
    sun.login(server.url, "sun", PASSWORD)
    sync_all(sun, server)
    # The mediator of the village reads the dispute's parties: the key came with the case.
    assert sorted(p.name for p in sun.get_case(case_id).people) == sorted([APPLICANT, RESPONDENT])

    erase(server, case_id)

    # Offline, not knowing: a title change and a new party, sealed under the key it holds.
    sun.set_title(case_id, "承包地边界纠纷（补充）")
    sun.add_person(case_id, ffi.PartyRecord(name=LATE_PARTY, role="witness", phone=""))
    assert LATE_PARTY in [p.name for p in sun.get_case(case_id).people]

    out = sync_all(sun, server)
    assert out.accepted >= 2, out
    # Merged: the server has the new title; every party, the offline one too, reads as erased on
    # the server and on the phone, which dropped its key at this sync.
    token = server.login("zhao")
    _, _, names, title = case_view(server, token, case_id)
    assert title == "承包地边界纠纷（补充）"
    assert names == [ERASED, ERASED, ERASED]
    assert [p.name for p in sun.get_case(case_id).people] == [ERASED, ERASED, ERASED]
    secrets_ = [APPLICANT, RESPONDENT, LATE_PARTY]
    assert text_hits("\n".join(sun.readable_texts()), secrets_) == []
    assert text_hits(decoded_server_texts(ffi, tmp_path), secrets_) == []
    assert file_hits(db_files(tmp_path), set().union(*(fragments(s) for s in secrets_))) == []

    # Written after the phone learnt of the erasure: a fresh key, pushed, readable by the
    # mediators again (new facts, not the erased ones).
    sun.add_person(case_id, ffi.PartyRecord(name=AFTER_PARTY, role="witness", phone=""))
    sync_all(sun, server)
    sync_all(zhao, server)
    assert AFTER_PARTY in [p.name for p in zhao.get_case(case_id).people]
    _, _, names, _ = case_view(server, token, case_id)
    assert sorted(names) == sorted([ERASED, ERASED, ERASED, AFTER_PARTY])
    assert [p.name for p in zhao.get_case(case_id).people].count(ERASED) == 3

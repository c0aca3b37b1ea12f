"""The county's rules travel to the phones (issue 19): a time limit changed with
`gridsync rules import` reaches a phone at its next sync and governs the deadline of a case it
captures offline; a phone that did not sync yet keeps the old limit, and the server keeps the
deadline each phone computed.
"""
import re
import subprocess

from conftest import BIN, VILLAGE, open_store

HOUR_MS = 3_600_000


def rules_cmd(server, *args):
    return subprocess.run(
        [BIN, "rules", *args], env=server.env, check=False, capture_output=True, text=True
    )


def accepted_dispute(ffi, store, title):
    """A neighbours' dispute captured and accepted offline by the village mediator."""
    case = store.capture(
        ffi.NewCaseRecord(
            kind="dispute", jurisdiction=VILLAGE, category="dispute_neighbours", title=title
        )
    )
    store.append_event(case, ffi.EventKind.ACCEPTED(), "村调委会受理")
    accepted = [e for e in store.get_case(case).events if e.kind == "accepted"][-1]
    return case, accepted


def test_a_changed_time_limit_reaches_the_phone_that_syncs_and_spares_the_one_that_did_not(
    ffi, server, tmp_path
):
    server.add_user("qian", "mediator", VILLAGE)
    fresh = open_store(tmp_path / "zhao.db")
    stale = open_store(tmp_path / "qian.db")
    fresh.login(server.url, "zhao", "field-day-Pa55")
    stale.login(server.url, "qian", "field-day-Pa55")
    for phone in (fresh, stale):
        first = phone.sync(server.url, None)
        assert first.new_rules is None  # the server's rules are the build's: nothing to send
        assert phone.rules().version == 0

    # The county cuts the limit for neighbours' disputes from 10 working days to 48 hours.
    exported = tmp_path / "rules.toml"
    assert rules_cmd(server, "export", str(exported)).returncode == 0
    text = exported.read_text()
    block = re.search(r'code = "dispute_neighbours"\n(?:.*\n)*?limit = "10wd"', text)
    assert block, "the export lists the category with its shipped limit"
    changed = text.replace(block.group(0), block.group(0).replace('"10wd"', '"48h"'))
    exported.write_text(changed)
    done = rules_cmd(server, "import", str(exported), "--by", "county-admin")
    assert done.returncode == 0, done.stderr
    assert "1" in done.stdout

    outcome = fresh.sync(server.url, None)
    assert outcome.new_rules == 1
    rules = fresh.rules()
    assert rules.version == 1
    limit = {c.code: c.limit for c in rules.categories}["dispute_neighbours"]
    assert limit == "48h"
    assert {d.code for d in rules.departments} >= {"judicial"}
    # The next sync tells the server the phone holds version 1, and nothing comes again.
    assert fresh.sync(server.url, None).new_rules is None

    # Both capture offline: the one that synced counts 48 hours, the other 10 working days.
    new_case, new_step = accepted_dispute(ffi, fresh, "邻里纠纷-新时限")
    old_case, old_step = accepted_dispute(ffi, stale, "邻里纠纷-旧时限")
    assert new_step.due_at_ms == new_step.at_ms + 48 * HOUR_MS
    assert new_step.rules_version == 1
    assert old_step.rules_version == 0
    assert old_step.due_at_ms >= old_step.at_ms + 10 * 24 * HOUR_MS  # ten working days at least
    assert stale.rules().version == 0

    # Both reach the server; it keeps each deadline as captured (no retroactive change).
    assert fresh.sync(server.url, None).accepted >= 1
    outcome = stale.sync(server.url, None)
    assert outcome.accepted >= 1 and outcome.rejected == 0
    assert outcome.new_rules == 1  # the stale phone gets the new rules now, for its next case
    token = server.login("chen")
    for case, step in ((new_case, new_step), (old_case, old_step)):
        detail = server.get(f"/v1/cases/{case}", token)
        assert detail["workflow"]["due"] == step.due_at_ms
        accepted = [e for e in detail["case"]["events"] if e["kind"] == "accepted"][-1]
        assert accepted["rules"] == step.rules_version
    assert stale.get_case(old_case).due_at_ms == old_step.due_at_ms


def test_a_bad_rules_file_is_refused_naming_the_line_and_changes_nothing(ffi, server, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "version = 1\n\n[departments.water]\nname_zh = \"水务局\"\nname_en = \"Water\"\n\n"
        "[[category]]\ncode = \"leak\"\nname_zh = \"漏水\"\nname_en = \"Leak\"\n"
        "kinds = [\"incident\"]\nlimit = \"-3wd\"\n"
    )
    done = rules_cmd(server, "import", str(bad))
    assert done.returncode != 0
    assert "line 12" in done.stderr and "bad time limit" in done.stderr, done.stderr
    assert "unchanged" in done.stderr
    history = rules_cmd(server, "history")
    assert history.returncode == 0
    assert [l.split("\t")[0] for l in history.stdout.splitlines()] == ["0"]

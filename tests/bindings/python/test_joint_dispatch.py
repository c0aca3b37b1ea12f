"""Joint dispatch (联合派单, issue 23) through the generated Python bindings against a real
`gridsync serve`: the township's phone dispatches a grid worker's report to a lead department
(交通运输局) and an assisting one (水务局); each department's phone syncs and holds the case with
its part, a third department's phone holds nothing; the assisting department signs for its part
and reports it, the lead resolves, and the township's return visit finds the resolution untrue.
"""

import subprocess

import pytest

from conftest import BIN, GRID, PASSWORD, open_store

LEAD = "transport"
ASSIST = "water"
OTHER = "environment"


def add_handler(server, user, department):
    """A department handler for the whole county (`gridsync user add … --department`)."""
    subprocess.run(
        [BIN, "user", "add", user, "--role", "department_handler", "--scope", "130322",
         "--department", department],
        env=server.env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def phone(server, tmp_path, user):
    store = open_store(tmp_path / f"{user}.db")
    store.login(server.url, user, PASSWORD)
    return store


def ids(ffi, store):
    return {c.id for c in store.list_cases(ffi.CaseFilterRecord())}


def test_each_department_phone_holds_the_case_and_its_part(ffi, server, tmp_path):
    for user, dept in (("dept.lead", LEAD), ("dept.assist", ASSIST), ("dept.other", OTHER)):
        add_handler(server, user, dept)
    wang = phone(server, tmp_path, "wang")
    chen = phone(server, tmp_path, "chen")
    lead = phone(server, tmp_path, "dept.lead")
    assist = phone(server, tmp_path, "dept.assist")
    other = phone(server, tmp_path, "dept.other")
    assert assist.signed_in().department == ASSIST

    case = wang.capture(
        ffi.NewCaseRecord(
            kind="incident",
            jurisdiction=GRID,
            category="road_damage",
            title="村道塌陷，地下水管破裂",
            description="路面塌陷约两米，下方供水管破裂。",
        )
    )
    wang.sync(server.url, None)

    # The township takes it on and dispatches it: transport leads, water assists.
    chen.sync(server.url, None)
    chen.append_event(case, ffi.EventKind.ACCEPTED(), "受理")
    chen.append_event(case, ffi.EventKind.ASSIGNED(department=LEAD), "请交通局牵头处置")
    # The lead cannot also assist; a department already assisting cannot be added twice.
    with pytest.raises(ffi.FfiError.InvalidInput) as refused:
        chen.append_event(case, ffi.EventKind.PART_ASSIGNED(department=LEAD), "")
    assert refused.value.field == "workflow"
    assert "lead department cannot assist itself" in refused.value.reason
    chen.append_event(case, ffi.EventKind.PART_ASSIGNED(department=ASSIST), "请水务局协办")
    with pytest.raises(ffi.FfiError.InvalidInput) as twice:
        chen.append_event(case, ffi.EventKind.PART_ASSIGNED(department=ASSIST), "")
    assert "already has a part" in twice.value.reason
    dispatched = chen.get_case(case)
    assert dispatched.lead_department == LEAD == dispatched.department
    assert [p.department for p in dispatched.parts] == [ASSIST]
    part = dispatched.parts[0]
    assert part.signed_by is None and part.done_at_ms is None
    assert part.due_at_ms is not None and part.due_at_ms > part.assigned_at_ms
    assert not part.overdue
    assert chen.sync(server.url, None).rejected == 0

    # Both departments' phones hold the case, with who holds which part; the third holds none.
    for store in (lead, assist, other):
        store.sync(server.url, None)
    assert ids(ffi, lead) == {case}
    assert ids(ffi, assist) == {case}
    assert ids(ffi, other) == set(), "a department outside the dispatch sees nothing"
    for store in (lead, assist):
        seen = store.get_case(case)
        assert seen.status == "assigned"
        assert seen.lead_department == LEAD
        assert [(p.department, p.signed_at_ms) for p in seen.parts] == [(ASSIST, None)]
        assert seen.description == "路面塌陷约两米，下方供水管破裂。"

    # The assisting department acts on its part only: not the lead's signing, not its part
    # reported without saying what it did.
    with pytest.raises(ffi.FfiError.InvalidInput):
        assist.append_event(case, ffi.EventKind.IN_PROGRESS(), "")
    with pytest.raises(ffi.FfiError.InvalidInput):
        lead.append_event(case, ffi.EventKind.PART_SIGNED(department=ASSIST), "")
    assist.append_event(case, ffi.EventKind.PART_SIGNED(department=ASSIST), "已签收")
    signed = assist.get_case(case).parts[0]
    assert signed.signed_by == "dept.assist" and signed.signed_at_ms is not None
    assert signed.due_at_ms is not None and signed.due_at_ms > signed.signed_at_ms
    with pytest.raises(ffi.FfiError.InvalidInput) as bare:
        assist.append_event(case, ffi.EventKind.PART_DONE(department=ASSIST), "  ")
    assert "say what was done" in bare.value.reason
    assist.append_event(case, ffi.EventKind.PART_DONE(department=ASSIST), "已抢修破裂供水管")
    events = assist.get_case(case).events
    assert [e.kind for e in events][-3:] == ["part_assigned", "part_signed", "part_done"]
    assert events[-1].department == ASSIST
    assert assist.get_case(case).status == "assigned", "part steps never move the status"
    assert assist.sync(server.url, None).rejected == 0

    # The lead signs for the case, sees the part reported, and resolves without a reason.
    lead.sync(server.url, None)
    lead.append_event(case, ffi.EventKind.IN_PROGRESS(), "已签收")
    held = lead.get_case(case)
    assert held.owner == "dept.lead"
    assert held.parts[0].done_at_ms is not None and held.parts[0].due_at_ms is None
    lead.append_event(
        case, ffi.EventKind.RESOLVED_WITH_REPLY(reply="道路和供水管已修复。"), ""
    )
    assert lead.sync(server.url, None).rejected == 0

    # The township's return visit finds the resolution untrue.
    chen.sync(server.url, None)
    assert chen.get_case(case).status == "resolved"
    chen.append_event(
        case,
        ffi.EventKind.RETURN_VISIT(via="phone", verdict=ffi.VisitVerdict.UNTRUE),
        "群众反映路面仍有积水",
    )
    chen.append_event(case, ffi.EventKind.RETURN_VISIT(via="sms"), "短信回访")
    visits = [e for e in chen.get_case(case).events if e.kind == "return_visit"]
    assert [v.verdict for v in visits] == ["untrue", None]
    assert chen.sync(server.url, None).rejected == 0

    # The server holds what the phones hold: the lead, the part, the verdict.
    token = server.login("chen")
    detail = server.get(f"/v1/cases/{case}", token)
    assert detail["workflow"]["department"] == LEAD
    parts = detail["workflow"]["parts"]
    assert [(p["department"], p["signed_by"]) for p in parts] == [(ASSIST, "dept.assist")]
    assert parts[0]["done_at"] is not None
    stored = [e for e in detail["case"]["events"] if e["kind"] == "return_visit"]
    assert [e.get("verdict") for e in stored] == ["untrue", None]
    # Every phone ends with the same log.
    assist.sync(server.url, None)
    assert [e.id for e in assist.get_case(case).events] == [e.id for e in chen.get_case(case).events]

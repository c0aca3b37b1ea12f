// Cases written by the JavaScript Automerge (3.x, every plain string a Text, change times in
// seconds by default), pushed to a real `gridsync serve` the way a phone pushes them. Run by
// tools/test-js.sh, which builds and starts the server, adds the accounts and sets
// GRIDSYNC_URL, GRIDSYNC_PASSWORD and GRIDSYNC_DB (the server's SQLite file, to look into its
// quarantine).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { test } from "node:test";

import * as A from "@automerge/automerge";

import { getJson, hex, login, sync } from "./gsyn.mjs";

const URL = process.env.GRIDSYNC_URL;
const PASSWORD = process.env.GRIDSYNC_PASSWORD;
const DB = process.env.GRIDSYNC_DB;
if (!URL || !PASSWORD || !DB) throw new Error("run this test with tools/test-js.sh");

const GRID = ["130322", "101", "201", "01"];
const HOUR = 3_600_000;

/** A phone running a JavaScript app: its own actor, signed in over HTTP. */
async function phone(user, role) {
  const actor = randomBytes(16).toString("hex");
  const device = `js-${user}-${randomBytes(3).toString("hex")}`;
  const tokens = await login(URL, user, PASSWORD, device, actor);
  assert.ok(tokens.device_secret, "the first sign-in on a device returns its secret");
  return {
    user,
    role,
    actor,
    device,
    token: tokens.access_token,
    message: `gs1 ${user} ${device} ${role}`,
  };
}

/** A workflow event as the schema documents it, written with plain JS strings. */
function event(who, type, level, deps, extra = {}) {
  return {
    id: randomUUID().replaceAll("-", ""),
    type,
    by: who.user,
    role: who.role,
    device: who.device,
    at: Date.now(),
    level,
    deps,
    note: "",
    ...extra,
  };
}

/** A new case by `who` (a grid worker of GRID), as one change; `tweak` may break a rule. */
function newCase(who, tweak = () => {}) {
  const id = randomUUID();
  const reported = event(who, "reported", "grid", []);
  const doc = A.change(A.init({ actor: who.actor }), { message: who.message }, (d) => {
    d.schema = 1;
    d.id = id;
    d.kind = "incident";
    d.created_at = Date.now();
    d.jurisdiction = { county: GRID[0], township: GRID[1], village: GRID[2], grid: GRID[3] };
    d.category = "street_light";
    d.title = "村口路灯不亮";
    d.description = "晚上出行不便，请尽快修复。";
    d.location = { lat: 36.98, lon: 115.2, accuracy_m: 8, address: "东街村村口" };
    d.reporter = { user: who.user, device: who.device };
    d.people = [{ id: "p1", name: "李四", role: "requester", phone: "13800000000" }];
    d.attachments = [];
    d.events = [reported];
    d.mediation = { sessions: [], agreement: "", result: "", referral: "" };
    d.extra = { source: "js" };
    tweak(d);
  });
  return { id, doc, reported: reported.id };
}

/** Appends one event with the writer's default JS change options; returns the doc and change. */
function step(who, doc, ev) {
  const next = A.change(doc, { message: who.message }, (d) => {
    d.events.push(ev);
  });
  return { doc: next, change: A.getLastLocalChange(next) };
}

async function push(who, id, changes) {
  return sync(URL, who.token, who.device, { push: [{ doc: id, changes }] });
}

function acceptedHashes(resp, id) {
  return resp.accepted.filter((a) => a.doc === id).flatMap((a) => a.hashes.map(hex));
}

async function caseDetail(who, id) {
  const { status, body } = await getJson(URL, who.token, `/v1/cases/${id}`);
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** The server's quarantine rows for a case: (hash, code, kept bytes). */
function quarantined(id) {
  const out = execFileSync(
    "sqlite3",
    ["-separator", "|", DB, `SELECT hash, code, length(bytes) FROM quarantine WHERE doc = '${id}'`],
    { encoding: "utf8" },
  );
  return out
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [hash, code, bytes] = line.split("|");
      return { hash, code, bytes: Number(bytes) };
    });
}

/** Pushes a case that breaks a rule; asserts it is refused with `code` and kept whole. */
async function assertRefused(who, c, code, reasonPart) {
  const change = A.getLastLocalChange(c.doc);
  const hash = A.decodeChange(change).hash;
  const resp = await push(who, c.id, [change]);
  assert.deepEqual(acceptedHashes(resp, c.id), []);
  assert.equal(resp.rejected.length, 1, JSON.stringify(resp.rejected));
  const [r] = resp.rejected;
  assert.equal(r.doc, c.id);
  assert.equal(hex(r.hash), hash);
  assert.equal(r.code, code);
  assert.match(r.reason, reasonPart);
  assert.deepEqual(quarantined(c.id), [{ hash, code, bytes: change.length }], "kept in quarantine");
  const { status } = await getJson(URL, who.token, `/v1/cases/${c.id}`);
  assert.equal(status, 404, "a refused case is not stored");
}

let wang;
let chen;
let theCase;

test("a JavaScript phone signs in like a phone", async () => {
  wang = await phone("wang", "grid_worker");
  chen = await phone("chen", "township_staff");
});

test("its strings are Text and its change times seconds (what this test is about)", () => {
  const c = newCase(wang);
  const change = A.decodeChange(A.getLastLocalChange(c.doc));
  const title = change.ops.find((op) => op.key === "title");
  assert.equal(title.action, "makeText", "a plain JS string is stored as Text");
  assert.ok(change.time > 1e9 && change.time < 1e11, `change time ${change.time} is seconds`);
});

test("(a) a case written by JS is accepted and reads back with its title and time", async () => {
  const before = Date.now();
  theCase = newCase(wang);
  const change = A.getLastLocalChange(theCase.doc);
  const resp = await push(wang, theCase.id, [change]);
  assert.deepEqual(resp.rejected, []);
  assert.deepEqual(acceptedHashes(resp, theCase.id), [A.decodeChange(change).hash]);

  const detail = await caseDetail(wang, theCase.id);
  assert.equal(detail.case.title, "村口路灯不亮");
  assert.equal(detail.case.kind, "incident");
  assert.equal(detail.case.description, "晚上出行不便，请尽快修复。");
  assert.equal(detail.case.extra.source, "js");
  assert.equal(detail.case.location.accuracy_m, 8);
  assert.equal(detail.case.people[0].name, "李四");
  const created = detail.case.created_at;
  assert.ok(created >= before - HOUR && created <= Date.now() + HOUR, `created_at ${created}`);
  assert.equal(detail.workflow.status, "reported");
  assert.equal(detail.case.events[0].by, "wang");

  const { body: page } = await getJson(URL, wang.token, "/v1/cases");
  const row = page.items.find((r) => r.id === theCase.id);
  assert.equal(row.title, "村口路灯不亮");
  assert.equal(row.created_at, created);
});

test("(b) later steps written by JS are accepted and move the status", async () => {
  // The grid worker accepts at the grid (the level the case was reported at).
  const accepted = event(wang, "accepted", "grid", [theCase.reported]);
  let s = step(wang, theCase.doc, accepted);
  let resp = await push(wang, theCase.id, [s.change]);
  assert.deepEqual(resp.rejected, []);
  assert.equal(acceptedHashes(resp, theCase.id).length, 1);
  theCase.doc = s.doc;
  assert.equal((await caseDetail(wang, theCase.id)).workflow.status, "accepted");

  // Township staff on another JS phone pull the case, assign it to a department at the
  // township level, then resolve it (township staff handle cases at their level).
  let doc = A.init({ actor: chen.actor });
  let cursor = 0;
  for (let round = 0; round < 10; round++) {
    const r = await sync(URL, chen.token, chen.device, { cursor });
    for (const p of r.pull.filter((p) => p.doc === theCase.id)) {
      [doc] = A.applyChanges(doc, p.changes);
    }
    cursor = r.cursor;
    if (!r.more) break;
  }
  assert.equal(String(doc.title), "村口路灯不亮", "the pull brought the case");
  assert.deepEqual(A.getMissingDeps(doc, []), []);

  const assigned = event(chen, "assigned", "township", [accepted.id], {
    department: "urban_management",
  });
  s = step(chen, doc, assigned);
  resp = await push(chen, theCase.id, [s.change]);
  assert.deepEqual(resp.rejected, []);
  let detail = await caseDetail(chen, theCase.id);
  assert.equal(detail.workflow.status, "assigned");
  assert.equal(detail.workflow.department, "urban_management");

  const resolved = event(chen, "resolved", "township", [assigned.id]);
  s = step(chen, s.doc, resolved);
  resp = await push(chen, theCase.id, [s.change]);
  assert.deepEqual(resp.rejected, []);
  detail = await caseDetail(chen, theCase.id);
  assert.equal(detail.workflow.status, "resolved");
  assert.deepEqual(
    detail.case.events.map((e) => e.kind ?? e.type),
    ["reported", "accepted", "assigned", "resolved"],
  );
  assert.equal(detail.history.length, 4, "four accepted changes");
});

test("(b) a step the rules do not allow is refused as workflow_refused", async () => {
  // Archiving is for township staff and county admins, not a grid worker.
  let doc = theCase.doc;
  const r = await sync(URL, wang.token, wang.device, { cursor: 0 });
  for (const p of r.pull.filter((p) => p.doc === theCase.id)) [doc] = A.applyChanges(doc, p.changes);
  const heads = doc.events.map((e) => String(e.id));
  const s = step(wang, doc, event(wang, "archived", "township", [heads.at(-1)]));
  const resp = await push(wang, theCase.id, [s.change]);
  assert.equal(resp.rejected.length, 1);
  assert.equal(resp.rejected[0].code, "workflow_refused");
  assert.match(resp.rejected[0].reason, /workflow_role/);
});

test("(c) a case without a title is refused as invalid_case and quarantined", async () => {
  await assertRefused(wang, newCase(wang, (d) => delete d.title), "invalid_case", /title/);
  await assertRefused(wang, newCase(wang, (d) => (d.title = "   ")), "invalid_case", /title/);
});

test("(c) NaN coordinates are refused as invalid_case and quarantined", async () => {
  const c = newCase(wang, (d) => {
    d.location.lat = NaN;
  });
  await assertRefused(wang, c, "invalid_case", /lat is not a finite number/);
  const far = newCase(wang, (d) => {
    d.location.lon = Infinity;
  });
  await assertRefused(wang, far, "invalid_case", /lon is not a finite number/);
});

test("(c) an event time in seconds is refused as invalid_case and quarantined", async () => {
  const c = newCase(wang, (d) => {
    d.events[0].at = Math.floor(Date.now() / 1000);
  });
  await assertRefused(wang, c, "invalid_case", /events\[0\]\.at: .*looks like seconds/);
});

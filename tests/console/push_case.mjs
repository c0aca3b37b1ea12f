// A phone that bypasses the editor: writes one case with the JavaScript Automerge, shaped like
// tests/js/interop.test.mjs's cases, and pushes it to a real `gridsync serve` as a phone pushes
// it. The console's browser tests (tests/console/test_clerk_language.py) run it to put data on
// the demo that the app's own editor would never write: a title of 100,000 characters, or a case
// with thousands of changes.
//
//   echo '{"url": "...", "user": "gw.10020101", "password": "...", "title": "...",
//          "edits": 4999, "chunk": 1000}' | node push_case.mjs
//
// The spec comes on standard input: a 100,000-character title is past what one command-line
// argument may hold.
//
// Signs in on a new device, captures the case in the signed-in worker's own scope (as the server
// answered at sign-in), then makes `edits` more changes of one field (location.accuracy_m), and
// pushes them all, `chunk` changes per sync. Prints one JSON line: the case id, the number of
// changes written and accepted, and every rejection. tools/test-console.sh copies this file and
// tests/js/gsyn.mjs beside the installed @automerge/automerge.

import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

import * as A from "@automerge/automerge";

import { hex, login, sync } from "./gsyn.mjs";

const spec = JSON.parse(readFileSync(0, "utf8"));
for (const key of ["url", "user", "password", "title"]) {
  if (typeof spec[key] !== "string") throw new Error(`push_case.mjs: ${key} is missing`);
}
const edits = spec.edits ?? 0;
const chunk = spec.chunk ?? 1000;

const actor = randomBytes(16).toString("hex");
const device = `js-console-${randomBytes(4).toString("hex")}`;
const tokens = await login(spec.url, spec.user, spec.password, device, actor);
// The sign-in answers the account's user, role and scope.
const who = { user: tokens.user, role: tokens.role, scope: String(tokens.scope) };
const scope = who.scope.split("/");
if (scope.length !== 4) throw new Error(`${spec.user} is not a grid worker: scope ${who.scope}`);
const message = `gs1 ${who.user} ${device} ${who.role}`;

const id = randomUUID();
const now = Date.now();
const reported = {
  id: randomUUID().replaceAll("-", ""),
  type: "reported",
  by: who.user,
  role: who.role,
  device,
  at: now,
  level: "grid",
  deps: [],
  note: "",
};
let doc = A.change(A.init({ actor }), { message }, (d) => {
  d.schema = 1;
  d.id = id;
  d.kind = "incident";
  d.created_at = now;
  d.jurisdiction = { county: scope[0], township: scope[1], village: scope[2], grid: scope[3] };
  d.category = "street_light";
  d.title = spec.title;
  d.description = "浏览器测试写入的案件。";
  d.location = { lat: 36.98, lon: 115.2, accuracy_m: 8, address: "东街村村口" };
  d.reporter = { user: who.user, device };
  d.people = [{ id: "p1", name: "李四", role: "requester", phone: "13800000000" }];
  d.attachments = [];
  d.events = [reported];
  d.mediation = { sessions: [], agreement: "", result: "", referral: "" };
  d.extra = { source: "js" };
});
for (let i = 1; i <= edits; i++) {
  doc = A.change(doc, { message }, (d) => {
    d.location.accuracy_m = 8 + (i % 50);
  });
}
const changes = A.getAllChanges(doc);

let accepted = 0;
const rejected = [];
for (let at = 0; at < changes.length; at += chunk) {
  const batch = changes.slice(at, at + chunk);
  let resp;
  for (let attempt = 0; ; attempt++) {
    try {
      const push = [{ doc: id, changes: batch }];
      resp = await sync(spec.url, tokens.access_token, device, { push });
      break;
    } catch (e) {
      // A 429 (the device's sync budget): wait and push the same batch again.
      if (attempt >= 5 || !String(e.message).startsWith("sync: 429")) throw e;
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
  accepted += resp.accepted.filter((a) => a.doc === id).reduce((n, a) => n + a.hashes.length, 0);
  for (const r of resp.rejected) {
    rejected.push({ doc: r.doc, hash: hex(r.hash ?? []), code: r.code, reason: r.reason });
  }
}
console.log(JSON.stringify({ id, device, changes: changes.length, accepted, rejected }));

// The sync protocol's wire format as a phone speaks it (docs/PROTOCOL.md, "Envelope"): a small
// CBOR encoder and decoder for what the messages hold (maps with text keys, arrays, byte and
// text strings, integers, booleans, null), the GSYN envelope with a raw-deflated body, and the
// HTTP calls a phone makes. Hand-written to keep the test's dependencies to Automerge alone.

import { deflateRawSync, inflateRawSync } from "node:zlib";

// --- CBOR (RFC 8949), definite lengths only: what serde + ciborium write ---

function head(major, n) {
  const big = BigInt(n);
  if (big < 24n) return Buffer.from([(major << 5) | Number(big)]);
  if (big < 0x100n) return Buffer.from([(major << 5) | 24, Number(big)]);
  if (big < 0x10000n) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(Number(big), 1);
    return b;
  }
  if (big < 0x100000000n) {
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(Number(big), 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = (major << 5) | 27;
  b.writeBigUInt64BE(big, 1);
  return b;
}

export function encodeCbor(v) {
  if (v === null || v === undefined) return Buffer.from([0xf6]);
  if (v === false) return Buffer.from([0xf4]);
  if (v === true) return Buffer.from([0xf5]);
  if (typeof v === "number" || typeof v === "bigint") {
    if (typeof v === "number" && !Number.isInteger(v)) throw new Error(`not an integer: ${v}`);
    return v < 0 ? head(1, -BigInt(v) - 1n) : head(0, v);
  }
  if (typeof v === "string") {
    const bytes = Buffer.from(v, "utf8");
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(encodeCbor)]);
  const entries = Object.entries(v).filter(([, x]) => x !== undefined);
  return Buffer.concat([
    head(5, entries.length),
    ...entries.flatMap(([k, x]) => [encodeCbor(k), encodeCbor(x)]),
  ]);
}

export function decodeCbor(buf) {
  let at = 0;
  const arg = (info) => {
    if (info < 24) return info;
    const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!size) throw new Error(`unsupported CBOR length ${info} at ${at}`);
    let n = 0n;
    for (let i = 0; i < size; i++) n = (n << 8n) | BigInt(buf[at + i]);
    at += size;
    return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  };
  const item = () => {
    const b = buf[at++];
    if (b === undefined) throw new Error("CBOR ends early");
    const major = b >> 5;
    const info = b & 31;
    switch (major) {
      case 0:
        return arg(info);
      case 1: {
        const n = arg(info);
        return typeof n === "bigint" ? -1n - n : -1 - n;
      }
      case 2:
      case 3: {
        const len = arg(info);
        const bytes = buf.subarray(at, at + len);
        at += len;
        return major === 2 ? new Uint8Array(bytes) : bytes.toString("utf8");
      }
      case 4:
        return Array.from({ length: arg(info) }, item);
      case 5: {
        const out = {};
        for (let n = arg(info); n > 0; n--) {
          const k = item();
          out[k] = item();
        }
        return out;
      }
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22 || info === 23) return null;
        if (info === 27) {
          const f = buf.readDoubleBE(at);
          at += 8;
          return f;
        }
        throw new Error(`unsupported CBOR simple value ${info}`);
      default:
        throw new Error(`unsupported CBOR major type ${major}`);
    }
  };
  const v = item();
  if (at !== buf.length) throw new Error(`${buf.length - at} bytes after the CBOR value`);
  return v;
}

// --- The envelope: GSYN, version 1, kind, flags (bit 0: deflated), body ---

const MAGIC = Buffer.from("GSYN");
export const SYNC_REQUEST = 1;
export const SYNC_RESPONSE = 2;

export function encodeEnvelope(kind, message) {
  const body = deflateRawSync(encodeCbor(message), { level: 6 });
  return Buffer.concat([MAGIC, Buffer.from([0, 1, kind, 1]), body]);
}

export function decodeEnvelope(bytes, kind) {
  const buf = Buffer.from(bytes);
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw new Error("not a GSYN envelope");
  if (buf.readUInt16BE(4) !== 1) throw new Error(`protocol version ${buf.readUInt16BE(4)}`);
  if (buf[6] !== kind) throw new Error(`message kind ${buf[6]}, wanted ${kind}`);
  const body = buf[7] & 1 ? inflateRawSync(buf.subarray(8)) : buf.subarray(8);
  return decodeCbor(body);
}

export const hex = (bytes) => Buffer.from(bytes).toString("hex");

// --- HTTP, as the phone does it ---

export async function login(url, user, password, device, actor) {
  const res = await fetch(`${url}/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user, password, device, actor }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`login ${user}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** One `POST /v1/sync` round trip: `push` is a list of {doc, changes: [Uint8Array]}. */
export async function sync(url, token, device, { cursor = 0, push = [] } = {}) {
  const request = {
    device,
    request_id: crypto.randomUUID(),
    cursor,
    page_bytes: 0,
    push,
    want: [],
  };
  const res = await fetch(`${url}/v1/sync`, {
    method: "POST",
    headers: { "Content-Type": "application/x-gridsync", Authorization: `Bearer ${token}` },
    body: encodeEnvelope(SYNC_REQUEST, request),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) {
    throw new Error(`sync: ${res.status} ${Buffer.from(bytes).toString("utf8")}`);
  }
  return decodeEnvelope(bytes, SYNC_RESPONSE);
}

export async function getJson(url, token, path) {
  const res = await fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

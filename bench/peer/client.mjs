// The peer benchmark's client: the same case documents, phone by phone, pushed to
// @automerge/automerge-repo-sync-server over its WebSocket protocol. Each phone is its own Repo
// with its own connection; it is done when the server's storage reports the heads of every one
// of its documents. Prints one JSON line: {"seconds": …, "documents": …}, and writes one line
// `PHONE DOC DOCUMENT_ID` per document into MANIFEST (the bench checks the server's storage).
//
// Run by `gridsync-bench peer` from a scratch directory where the server and
// @automerge/automerge-repo were installed with npm (never committed).
//   node client.mjs URL DOCS.json CONCURRENCY MANIFEST
import fs from "node:fs"
import { Repo } from "@automerge/automerge-repo"
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const [url, docsFile, concurrencyArg, manifestFile] = process.argv.slice(2)
const phones = JSON.parse(fs.readFileSync(docsFile, "utf8")).map(docs =>
  docs.map(b64 => new Uint8Array(Buffer.from(b64, "base64")))
)
const concurrency = Math.max(1, parseInt(concurrencyArg ?? "50", 10))
const TIMEOUT_MS = 600_000

const sameHeads = (a, b) =>
  a !== undefined && b !== undefined && a.length === b.length && a.every(h => b.includes(h))

const manifest = []

async function phone(index, docs) {
  const network = new BrowserWebSocketClientAdapter(url)
  const repo = new Repo({ network: [network], sharePolicy: async () => true })
  // The server's storage id arrives with the peer announcement.
  const storageId = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no peer")), TIMEOUT_MS)
    repo.networkSubsystem.on("peer", ({ peerMetadata }) => {
      if (peerMetadata?.storageId) {
        clearTimeout(timer)
        resolve(peerMetadata.storageId)
      }
    })
  })
  repo.subscribeToRemotes([storageId])
  const handles = docs.map(bytes => repo.import(bytes))
  handles.forEach((handle, n) => manifest.push(`${index} ${n} ${handle.documentId}`))
  await Promise.all(
    handles.map(
      handle =>
        new Promise((resolve, reject) => {
          const done = () => sameHeads(handle.getRemoteHeads(storageId), handle.heads())
          if (done()) return resolve()
          const timer = setTimeout(() => reject(new Error("not stored")), TIMEOUT_MS)
          handle.on("remote-heads", () => {
            if (done()) {
              clearTimeout(timer)
              resolve()
            }
          })
        })
    )
  )
  network.disconnect()
}

const started = performance.now()
let next = 0
async function worker() {
  while (next < phones.length) {
    const index = next++
    await phone(index, phones[index])
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, phones.length) }, worker))
const seconds = (performance.now() - started) / 1000
fs.writeFileSync(manifestFile, manifest.join("\n") + "\n")
console.log(JSON.stringify({ seconds, documents: phones.reduce((n, d) => n + d.length, 0) }))
process.exit(0)

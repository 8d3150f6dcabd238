#!/usr/bin/env node
// Reverse check: let real Yjs integrate updates (e.g. produced by box/ydoc).
//
//   echo '{"updates": ["<base64>", ...], "gc": true}' | node apply.mjs
//
// Applies the updates in order to a fresh Y.Doc({gc}) and prints one JSON object:
//   {"text", "textDelta", "meta", "list", "stateVector", "state", "pending"}
// text/textDelta are Y.Text "content", meta is Y.Map "meta", list is Y.Array "list"
// (Uint8Array values as {"$bytes": "<base64>"}); stateVector and state are base64
// (Y.encodeStateVector, Y.encodeStateAsUpdate). "pending" is true when Yjs holds
// structs or deletions it cannot integrate yet (missing dependencies); "state" then
// includes the pending structs as Yjs encodes them.
//
// Optional input fields:
//   "formattingCleanup": true  run stock Yjs's Y.Text formatting cleanup after each
//                              update (off by default, like the fixtures' receiver;
//                              see lib/session.mjs disableFormattingCleanup)
//   "clientID": N              the doc's own client id (default: random; it only
//                              matters with formattingCleanup, which never creates
//                              structs anyway)
// Exits 1 with a message on stderr if an update throws, 2 on bad input.

import * as Y from 'yjs'
import { docView, b64, isPending, disableFormattingCleanup } from './lib/session.mjs'

async function readStdin () {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

function fail (code, msg) {
  process.stderr.write(`apply.mjs: ${msg}\n`)
  process.exit(code)
}

let input
try {
  input = JSON.parse(await readStdin())
} catch (e) {
  fail(2, `stdin is not JSON: ${e.message}`)
}
if (!input || !Array.isArray(input.updates) || !input.updates.every(u => typeof u === 'string')) {
  fail(2, 'input must be {"updates": ["<base64>", ...], "gc": true|false}')
}
const gc = input.gc === undefined ? true : !!input.gc
const doc = new Y.Doc({ gc })
if (input.clientID !== undefined) doc.clientID = input.clientID
if (!input.formattingCleanup) disableFormattingCleanup(doc)
doc.getText('content'); doc.getMap('meta'); doc.getArray('list')

for (const [i, s] of input.updates.entries()) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) fail(2, `update ${i}: not standard base64`)
  const u = new Uint8Array(Buffer.from(s, 'base64'))
  try {
    Y.applyUpdate(doc, u)
  } catch (e) {
    fail(1, `update ${i} (${u.length} bytes) threw: ${e && e.stack ? e.stack : e}`)
  }
}

let out
try {
  out = {
    ...docView(doc),
    stateVector: b64(Y.encodeStateVector(doc)),
    state: b64(Y.encodeStateAsUpdate(doc)),
    pending: isPending(doc)
  }
} catch (e) {
  fail(1, `reading the document threw: ${e && e.stack ? e.stack : e}`)
}
process.stdout.write(JSON.stringify(out) + '\n')

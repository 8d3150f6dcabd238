#!/usr/bin/env node
// A stock Yjs client (y-websocket's WebsocketProvider) editing a pad, for
// the interop tests of the box's pad websocket.
//
//   node ws-client.mjs ws://HOST/ws/pads ROOM [--insert TEXT] [--expect TEXT]
//
// Connects, waits for the first sync, appends --insert to the Y.Text
// "content" (if given), waits until the server has answered a sync after
// the edit, then, with --expect, waits until the text equals it. Prints
// {"text": ...} and exits 0, or exits 1 after 15 s.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [url, room, ...rest] = process.argv.slice(2)
const opt = name => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : undefined }
const insert = opt('--insert')
const expect = opt('--expect')

const doc = new Y.Doc()
const text = doc.getText('content')
const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
const fail = msg => { process.stderr.write(`ws-client: ${msg}\n`); process.exit(1) }
setTimeout(() => fail(`timed out; text is ${JSON.stringify(text.toString())}`), 15000)

const done = () => {
  process.stdout.write(JSON.stringify({ text: text.toString() }) + '\n')
  provider.destroy()
  process.exit(0)
}

provider.once('sync', synced => {
  if (!synced) return
  if (insert) text.insert(text.length, insert)
  // A second round trip makes sure the server has the edit: it answers
  // our query only after reading what we sent before it.
  provider.ws.send(new Uint8Array([3]))
  const check = () => { if (expect === undefined || text.toString() === expect) done() }
  provider.awareness.once('change', () => setTimeout(check, 50))
  text.observe(check)
  setTimeout(check, 200)
})

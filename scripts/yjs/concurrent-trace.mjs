// Replays a concurrent editing trace with real Yjs, one Y.Doc per author,
// each bringing in its parents' updates before editing (the same replay as
// box/ydoc's TestConcurrentTraces), and prints the authors' final text as
// JSON, so the Go core can be compared with Yjs on it.
//
//   node concurrent-trace.mjs TRACE.json.gz > OUT.json
import * as Y from 'yjs'
import fs from 'node:fs'
import zlib from 'node:zlib'

const tr = JSON.parse(zlib.gunzipSync(fs.readFileSync(process.argv[2])))
const docs = Array.from({ length: tr.numAgents }, (_, i) => {
  const d = new Y.Doc()
  d.clientID = i + 1
  return d
})
const svOf = d => Y.decodeStateVector(Y.encodeStateVector(d))
// code-point position → UTF-16 index in s
const u16 = (s, pos) => {
  let u = 0
  let cp = 0
  for (const ch of s) {
    if (cp === pos) break
    u += ch.length
    cp++
  }
  return u
}
const byClient = new Map()
const states = []
for (const txn of tr.txns) {
  const d = docs[txn.agent]
  const want = new Map()
  for (const p of txn.parents) for (const [c, k] of states[p]) want.set(c, Math.max(want.get(c) || 0, k))
  const sv = svOf(d)
  for (const [c, k] of want) {
    for (const l of byClient.get(c) || []) {
      if (l.end > (sv.get(c) || 0) && l.end <= k) Y.applyUpdate(d, l.update)
    }
  }
  const t = d.getText('text')
  let update = null
  const h = u => { update = u }
  d.on('update', h)
  d.transact(() => {
    for (const [pos, del, ins] of txn.patches) {
      const s = t.toString()
      const p = u16(s, pos)
      if (del > 0) t.delete(p, u16(s.slice(p), del))
      if (ins) t.insert(p, ins)
    }
  })
  d.off('update', h)
  if (update) {
    if (!byClient.has(d.clientID)) byClient.set(d.clientID, [])
    byClient.get(d.clientID).push({ end: svOf(d).get(d.clientID), update })
  }
  states.push(svOf(d))
}
for (const a of docs) for (const b of docs) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
const texts = docs.map(d => d.getText('text').toString())
if (texts.some(t => t !== texts[0])) throw new Error('authors did not converge')
process.stdout.write(JSON.stringify({ yjs: '13.6.33', text: texts[0], reachesEndContent: texts[0] === tr.endContent }) + '\n')

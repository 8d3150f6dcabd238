#!/usr/bin/env node
// Node half of the box/ydoc benchmark: replay a sequential editing trace with Yjs.
//
//   node --expose-gc bench.mjs --trace PATH.json.gz --phase apply  [--doc OUT.bin] [--listener]
//   node --expose-gc bench.mjs --phase encode --doc IN.bin [--trace PATH.json.gz]
//   node --expose-gc bench.mjs --phase load   --doc IN.bin [--trace PATH.json.gz]
//
// One phase per process, so that the peak RSS is per phase. Prints one JSON line:
//   {"impl":"yjs","phase":...,"ms":...,"peakRssBytes":...,"heapUsedBytes":...,"encodedBytes":...,"ops":N, ...}
//
// apply:  precomputes all patches into UTF-16 positions (untimed), then times one
//         doc.transact per patch on Y.Text "text" (delete, then insert). --listener
//         also collects every update (doc.on('update')), like a server would.
//         Checks the result against endContent; writes Y.encodeStateAsUpdate to --doc.
// encode: loads --doc, times Y.encodeStateAsUpdate(doc) 10 times; ms is the median.
// load:   times Y.applyUpdate(new Y.Doc(), bytes) 10 times (fresh doc each); median.
//         With --trace, the loaded text must equal endContent (checked after timing).
//
// Fields: ms (apply: whole loop; encode/load: median of runsMs), peakRssBytes
// (process.resourceUsage().maxRSS, the process's high-water mark, which for apply
// includes parsing the trace: see baselineRssBytes, the peak before the timed part),
// loopPeakRssBytes (RSS sampled every 1000 ops inside the apply loop, and after each
// encode/load run), heapUsedBytes (right after the timed part), heapUsedAfterGcBytes
// (after a full GC, document still alive), encodedBytes (update format v1),
// encodedV2Bytes (apply only: the v2 format, which crdt-benchmarks reports), ops
// (patches / runs). The apply doc uses a fixed clientID (below).

import * as Y from 'yjs'
import { readFileSync, writeFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { performance } from 'node:perf_hooks'

function usage (msg) {
  process.stderr.write(`bench.mjs: ${msg}\nusage: node --expose-gc bench.mjs --trace PATH.json.gz --phase apply|encode|load [--doc encoded.bin] [--listener]\n`)
  process.exit(2)
}

const args = { listener: false, runs: 10 }
{
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const v = () => { if (i + 1 >= argv.length) usage(`missing value for ${k}`); return argv[++i] }
    switch (k) {
      case '--trace': args.trace = v(); break
      case '--phase': args.phase = v(); break
      case '--doc': args.doc = v(); break
      case '--listener': args.listener = true; break
      case '--runs': args.runs = Number(v()); break
      default: usage(`unknown argument ${k}`)
    }
  }
}
if (!['apply', 'encode', 'load'].includes(args.phase)) usage('--phase apply|encode|load is required')
if (args.phase === 'apply' && !args.trace) usage('apply needs --trace')
if (args.phase !== 'apply' && !args.doc) usage(`${args.phase} needs --doc`)
if (!(Number.isInteger(args.runs) && args.runs >= 1)) usage('--runs must be a positive integer')
if (typeof global.gc !== 'function') usage('run with node --expose-gc')

// A fixed client id keeps encodedBytes reproducible: every origin reference carries
// it as a varUint, so a random id (5 bytes when >= 2^28, as 15/16 of them are)
// changes the size by several percent from run to run.
const CLIENT_ID = 2654435769

const fullGc = () => { global.gc(); global.gc() }
const maxRss = () => process.resourceUsage().maxRSS * 1024
const median = xs => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const round = x => Math.round(x * 1000) / 1000

function readTrace (path) {
  const t = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'))
  if (!Array.isArray(t.txns) || typeof t.endContent !== 'string') throw new Error(`${path}: not a sequential trace`)
  return t
}

// ------------------------------------------------------------ code points → UTF-16

const hasAstral = s => /[\uD800-\uDFFF]/.test(s)

/**
 * The document text as chunks of at most CHUNK UTF-16 units, each knowing its
 * code-point count, so that a code-point position maps to UTF-16 without scanning
 * the whole text. Used only for traces with astral characters; otherwise code
 * points and UTF-16 units coincide.
 */
const CHUNK = 1024
class ChunkedText {
  constructor (s) {
    this.chunks = []
    for (let i = 0; i < s.length;) {
      let j = Math.min(i + CHUNK, s.length)
      if (j < s.length && isLow(s.charCodeAt(j))) j-- // never split a pair
      this.chunks.push(mkChunk(s.slice(i, j)))
      i = j
    }
  }

  /** UTF-16 offset of code point pos */
  utf16 (pos) {
    const cs = this.chunks
    let u = 0
    for (let i = 0; i < cs.length; i++) {
      if (pos <= cs[i].cp) return u + u16Offset(cs[i].s, pos)
      pos -= cs[i].cp
      u += cs[i].s.length
    }
    if (pos === 0) return u
    throw new Error('position past the end')
  }

  /** apply a patch given in code points; returns [pos16, del16] */
  splice (pos, del, ins) {
    const pos16 = this.utf16(pos)
    const end16 = this.utf16(pos + del)
    const cs = this.chunks
    // chunks a..b (inclusive) cover [pos16, end16]
    let u = 0; let a = -1; let aStart = 0; let b = -1
    for (let i = 0; i < cs.length; i++) {
      const len = cs[i].s.length
      if (a < 0 && pos16 <= u + len) { a = i; aStart = u }
      if (a >= 0 && end16 <= u + len) { b = i; break }
      u += len
    }
    if (a < 0) { a = cs.length; b = cs.length - 1 } // empty text
    let s = ''
    for (let i = a; i <= b; i++) s += cs[i].s
    s = s.slice(0, pos16 - aStart) + ins + s.slice(end16 - aStart)
    if (s.length < CHUNK / 4 && b + 1 < cs.length) s += cs[++b].s // keep chunks from getting tiny
    cs.splice(a, b - a + 1, ...new ChunkedText(s).chunks)
    return [pos16, end16 - pos16]
  }

  toString () { return this.chunks.map(c => c.s).join('') }
}
function isLow (c) { return c >= 0xDC00 && c <= 0xDFFF }
function mkChunk (s) {
  let cp = 0
  for (let i = 0; i < s.length; i++) if (!isLow(s.charCodeAt(i))) cp++
  return { s, cp }
}
function u16Offset (s, cpPos) {
  let i = 0
  for (let k = 0; k < cpPos; k++) {
    const c = s.charCodeAt(i)
    i += (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) ? 2 : 1
  }
  return i
}

/** all patches as parallel arrays in UTF-16 units, ready for Yjs */
function compilePatches (trace) {
  let n = 0
  let astral = hasAstral(trace.startContent || '') || hasAstral(trace.endContent)
  for (const tx of trace.txns) {
    for (const p of tx.patches) {
      n++
      if (!astral && hasAstral(p[2])) astral = true
    }
  }
  const pos = new Int32Array(n)
  const del = new Int32Array(n)
  const ins = new Array(n)
  let i = 0
  if (!astral) {
    for (const tx of trace.txns) {
      for (const [p, d, s] of tx.patches) { pos[i] = p; del[i] = d; ins[i] = s; i++ }
    }
  } else {
    const text = new ChunkedText(trace.startContent || '')
    for (const tx of trace.txns) {
      for (const [p, d, s] of tx.patches) {
        const [p16, d16] = text.splice(p, d, s)
        pos[i] = p16; del[i] = d16; ins[i] = s; i++
      }
    }
    if (text.toString() !== trace.endContent) throw new Error('code point replay does not give endContent')
  }
  return { n, pos, del, ins, astral }
}

// ------------------------------------------------------------ phases

function phaseApply () {
  let trace = readTrace(args.trace)
  const { n, pos, del, ins, astral } = compilePatches(trace)
  const startContent = trace.startContent || ''
  const endContent = trace.endContent
  trace = null

  const doc = new Y.Doc()
  doc.clientID = CLIENT_ID
  const ytext = doc.getText('text')
  const updates = []
  if (args.listener) doc.on('update', u => { updates.push(u) })
  if (startContent) doc.transact(() => ytext.insert(0, startContent))

  fullGc()
  const baselineRssBytes = maxRss()
  let loopPeakRssBytes = process.memoryUsage.rss()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const p = pos[i]; const d = del[i]; const s = ins[i]
    doc.transact(() => {
      if (d > 0) ytext.delete(p, d)
      if (s.length > 0) ytext.insert(p, s)
    })
    if (i % 1000 === 999) {
      const r = process.memoryUsage.rss()
      if (r > loopPeakRssBytes) loopPeakRssBytes = r
    }
  }
  const ms = performance.now() - t0
  const heapUsedBytes = process.memoryUsage().heapUsed
  const peakRssBytes = maxRss()
  loopPeakRssBytes = Math.max(loopPeakRssBytes, process.memoryUsage.rss())

  if (ytext.toString() !== endContent) throw new Error('final text differs from endContent')
  fullGc()
  const heapUsedAfterGcBytes = process.memoryUsage().heapUsed
  const encoded = Y.encodeStateAsUpdate(doc)
  if (args.doc) writeFileSync(args.doc, encoded)
  let updateBytes
  if (args.listener) updateBytes = updates.reduce((a, u) => a + u.length, 0)
  return {
    impl: 'yjs',
    phase: 'apply',
    ms: round(ms),
    peakRssBytes,
    heapUsedBytes,
    encodedBytes: encoded.length,
    ops: n,
    encodedV2Bytes: Y.encodeStateAsUpdateV2(doc).length,
    clientID: CLIENT_ID,
    listener: args.listener,
    ...(args.listener ? { updates: updates.length, updateBytes } : {}),
    baselineRssBytes,
    loopPeakRssBytes,
    heapUsedAfterGcBytes,
    textUtf16: ytext.length,
    astral,
    structs: countStructs(doc)
  }
}

function countStructs (doc) {
  let s = 0
  doc.store.clients.forEach(structs => { s += structs.length })
  return s
}

function loadDoc (bytes) {
  const doc = new Y.Doc()
  const ytext = doc.getText('text')
  Y.applyUpdate(doc, bytes)
  return { doc, ytext }
}

function checkAgainstTrace (text) {
  if (!args.trace) return undefined
  const t = readTrace(args.trace)
  if (text !== t.endContent) throw new Error('loaded text differs from the trace endContent')
  return true
}

function phaseEncode () {
  const bytes = new Uint8Array(readFileSync(args.doc))
  const { doc, ytext } = loadDoc(bytes)
  fullGc()
  const baselineRssBytes = maxRss()
  let loopPeakRssBytes = process.memoryUsage.rss()
  const runs = []
  let encoded
  let heapUsedBytes = 0
  for (let r = 0; r < args.runs; r++) {
    encoded = null
    fullGc()
    const t0 = performance.now()
    encoded = Y.encodeStateAsUpdate(doc)
    runs.push(performance.now() - t0)
    heapUsedBytes = Math.max(heapUsedBytes, process.memoryUsage().heapUsed)
    loopPeakRssBytes = Math.max(loopPeakRssBytes, process.memoryUsage.rss())
  }
  const peakRssBytes = maxRss()
  const textUtf16 = ytext.length
  const textOk = checkAgainstTrace(ytext.toString())
  fullGc()
  return {
    impl: 'yjs',
    phase: 'encode',
    ms: round(median(runs)),
    peakRssBytes,
    heapUsedBytes,
    encodedBytes: encoded.length,
    ops: args.runs,
    runsMs: runs.map(round),
    inputBytes: bytes.length,
    sameAsInput: Buffer.compare(Buffer.from(encoded), Buffer.from(bytes)) === 0,
    baselineRssBytes,
    loopPeakRssBytes,
    heapUsedAfterGcBytes: process.memoryUsage().heapUsed,
    textUtf16,
    ...(textOk !== undefined ? { textMatchesTrace: textOk } : {}),
    structs: countStructs(doc)
  }
}

function phaseLoad () {
  const bytes = new Uint8Array(readFileSync(args.doc))
  fullGc()
  const baselineRssBytes = maxRss()
  let loopPeakRssBytes = process.memoryUsage.rss()
  const runs = []
  let heapUsedBytes = 0
  let last = null
  let length = -1
  for (let r = 0; r < args.runs; r++) {
    last = null
    fullGc()
    const doc = new Y.Doc()
    const ytext = doc.getText('text')
    const t0 = performance.now()
    Y.applyUpdate(doc, bytes)
    runs.push(performance.now() - t0)
    heapUsedBytes = Math.max(heapUsedBytes, process.memoryUsage().heapUsed)
    loopPeakRssBytes = Math.max(loopPeakRssBytes, process.memoryUsage.rss())
    if (length >= 0 && ytext.length !== length) throw new Error('text length differs between runs')
    length = ytext.length
    last = { doc, ytext }
  }
  const peakRssBytes = maxRss()
  const text = last.ytext.toString()
  const textOk = checkAgainstTrace(text)
  fullGc()
  return {
    impl: 'yjs',
    phase: 'load',
    ms: round(median(runs)),
    peakRssBytes,
    heapUsedBytes,
    encodedBytes: bytes.length,
    ops: args.runs,
    runsMs: runs.map(round),
    baselineRssBytes,
    loopPeakRssBytes,
    heapUsedAfterGcBytes: process.memoryUsage().heapUsed,
    textUtf16: length,
    ...(textOk !== undefined ? { textMatchesTrace: textOk } : {}),
    structs: countStructs(last.doc)
  }
}

try {
  const out = args.phase === 'apply' ? phaseApply() : args.phase === 'encode' ? phaseEncode() : phaseLoad()
  process.stdout.write(JSON.stringify(out) + '\n')
} catch (e) {
  process.stderr.write(`bench.mjs: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
}

// Shared machinery for recording Yjs editing sessions as JSON fixtures that the
// Go implementation (box/ydoc) replays. See ../README.md for the format.

import * as Y from 'yjs'
import { readFileSync } from 'node:fs'

export const YJS_VERSION = JSON.parse(
  readFileSync(new URL('../node_modules/yjs/package.json', import.meta.url), 'utf8')
).version

// ---------------------------------------------------------------- PRNG

/** mulberry32: small, fast, deterministic 32-bit PRNG. */
export function mulberry32 (seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const rng = {
    float: next,
    /** integer in [lo, hi] inclusive */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    uint32: () => Math.floor(next() * 4294967296) >>> 0,
    chance: p => next() < p,
    pick: arr => arr[Math.floor(next() * arr.length)],
    /** weighted pick from [[weight, value], ...] */
    weighted: pairs => {
      let total = 0
      for (const [w] of pairs) total += w
      let r = next() * total
      for (const [w, v] of pairs) {
        if (r < w) return v
        r -= w
      }
      return pairs[pairs.length - 1][1]
    },
    shuffle: arr => {
      const a = arr.slice()
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        const t = a[i]; a[i] = a[j]; a[j] = t
      }
      return a
    }
  }
  return rng
}

/** Mix two integers into a 32-bit seed (so session i of seed s is independent of i-1). */
export function mixSeed (a, b) {
  let h = (Math.imul(a >>> 0, 0x9E3779B1) ^ Math.imul((b >>> 0) + 0x7F4A7C15, 0x85EBCA77)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x45D9F3B) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x45D9F3B) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

// ---------------------------------------------------------------- helpers

export const b64 = u => Buffer.from(u).toString('base64')
export const unb64 = s => new Uint8Array(Buffer.from(s, 'base64'))

/**
 * Convert Yjs toJSON()/toDelta() output to plain JSON. Uint8Array (ContentBinary,
 * or bytes inside ContentAny) becomes {"$bytes": "<base64>"}; nested Yjs types
 * become their toJSON().
 */
export function plain (v) {
  if (v instanceof Uint8Array) return { $bytes: b64(v) }
  if (v instanceof Y.AbstractType) return plain(v.toJSON())
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v)) o[k] = plain(v[k])
    return o
  }
  return v
}

export function docView (doc) {
  const text = doc.getText('content')
  return {
    text: text.toString(),
    textDelta: plain(text.toDelta()),
    meta: plain(doc.getMap('meta').toJSON()),
    list: plain(doc.getArray('list').toJSON())
  }
}

/** JSON with object keys sorted recursively (Y.Map key order depends on integration order) */
export function canon (v) {
  return JSON.stringify(v, (k, x) => (x !== null && typeof x === 'object' && !Array.isArray(x))
    ? Object.fromEntries(Object.keys(x).sort().map(key => [key, x[key]]))
    : x)
}

export const svEqual = (a, b) => Buffer.compare(Y.encodeStateVector(a), Y.encodeStateVector(b)) === 0

export function isPending (doc) {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null
}

/**
 * Stop Yjs's Y.Text formatting cleanup in this doc. Stock Yjs, after a REMOTE
 * transaction touched a Y.Text that has formatting, runs a local transaction that
 * deletes redundant format items (cleanupYTextAfterTransaction). In a passive
 * receiver those deletions are local edits nobody else sees: its delete set (and
 * sometimes its toDelta()) then depends on the delivery order. The fixtures'
 * receiver therefore integrates the updates only; the clients keep the stock
 * behaviour, and their cleanup updates are recorded like any local edit.
 * (Stock Yjs only does this for a Y.Text that exists as such: a root that no one
 * has asked for with doc.getText(name) is a plain AbstractType, and is not cleaned.)
 */
export function disableFormattingCleanup (doc) {
  doc._noFormattingCleanup = true
}
const origTextCallObserver = Y.Text.prototype._callObserver
Y.Text.prototype._callObserver = function (transaction, parentSubs) {
  origTextCallObserver.call(this, transaction, parentSubs)
  if (transaction.doc._noFormattingCleanup) transaction._needFormattingCleanup = false
}

export class Abort extends Error {}
export function check (cond, msg) {
  if (!cond) throw new Abort(msg)
}

/**
 * Valid UTF-16 boundary positions of a Y.Text (length counts embeds as 1):
 * every index 0..length except the middle of a surrogate pair.
 */
export function textUnits (ytext) {
  // per unit: 'h' high surrogate, 'l' low surrogate, 'c' other char, 'e' embed
  const units = []
  for (const op of ytext.toDelta()) {
    if (typeof op.insert === 'string') {
      const s = op.insert
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i)
        units.push(c >= 0xD800 && c <= 0xDBFF ? 'h' : c >= 0xDC00 && c <= 0xDFFF ? 'l' : 'c')
      }
    } else {
      units.push('e')
    }
  }
  if (units.length !== ytext.length) throw new Error(`unit count ${units.length} != length ${ytext.length}`)
  return units
}

export function isBoundary (units, i) {
  return i <= 0 || i >= units.length || !(units[i - 1] === 'h' && units[i] === 'l')
}

export function randomBoundary (rng, units) {
  for (;;) {
    const p = rng.int(0, units.length)
    if (isBoundary(units, p)) return p
  }
}

/** random [pos, len] range with both ends on boundaries, len >= 1; null if text empty */
export function randomRange (rng, units, maxLen = 12) {
  if (units.length === 0) return null
  for (let tries = 0; tries < 100; tries++) {
    const p = rng.int(0, units.length - 1)
    if (!isBoundary(units, p)) continue
    const big = rng.chance(0.1)
    const len = rng.int(1, Math.min(units.length - p, big ? 200 : maxLen))
    if (isBoundary(units, p + len)) return [p, len]
  }
  return null
}

// ---------------------------------------------------------------- session

/**
 * A recorded session: N client docs. Every update a client emits for a LOCAL
 * transaction (origin !== 'remote') is recorded, in generation order. Remote
 * updates are applied with origin 'remote'. Note that Yjs may run a local
 * formatting-cleanup transaction (origin null) while applying a remote update
 * that touches Y.Text formatting; its update (deletions only) is recorded too,
 * under the receiving client's id, since it is that client's own edit.
 */
export class Session {
  constructor ({ seed, index, gc, clientIDs, rng, receiverCleanup = false }) {
    this.receiverCleanup = receiverCleanup
    this.seed = seed
    this.index = index
    this.gc = gc
    this.rng = rng
    this.updates = [] // {client, update: Uint8Array}
    this.midStateVector = null
    this.midState = null
    this.syncing = false
    this.stats = { cleanupUpdates: 0 }
    this.docs = clientIDs.map(id => {
      const doc = new Y.Doc({ gc })
      doc.clientID = id
      doc.on('update', (u, origin) => {
        if (origin !== 'remote') {
          this.updates.push({ client: doc.clientID, update: u })
          if (this.syncing) this.stats.cleanupUpdates = (this.stats.cleanupUpdates || 0) + 1
        }
      })
      // create the root types up front (creates no structs)
      doc.getText('content'); doc.getMap('meta'); doc.getArray('list')
      return doc
    })
  }

  /** one-directional sync a -> b */
  push (a, b) {
    const da = this.docs[a]; const db = this.docs[b]
    this.syncing = true
    try {
      Y.applyUpdate(db, Y.encodeStateAsUpdate(da, Y.encodeStateVector(db)), 'remote')
    } finally {
      this.syncing = false
    }
  }

  /** two clients exchange everything, both ways */
  sync (a, b) {
    this.push(a, b)
    this.push(b, a)
  }

  markMid (clientIdx) {
    this.midStateVector = Y.encodeStateVector(this.docs[clientIdx])
    this.midState = Y.encodeStateAsUpdate(this.docs[clientIdx])
  }

  /** sync all pairs until nothing new is produced and all state vectors are equal */
  converge () {
    for (let round = 0; round < 50; round++) {
      const before = this.updates.length
      for (let a = 0; a < this.docs.length; a++) {
        for (let b = a + 1; b < this.docs.length; b++) this.sync(a, b)
      }
      const allEqual = this.docs.every(d => svEqual(d, this.docs[0]))
      if (allEqual && this.updates.length === before) return
    }
    throw new Abort('clients did not converge in 50 rounds')
  }

  /** Build the fixture object; verifies everything and throws Abort on a mismatch. */
  finish () {
    this.converge()
    const { rng, gc } = this
    const views = this.docs.map(docView)
    for (let i = 1; i < views.length; i++) {
      check(views[i].text === views[0].text, `client ${i} text differs`)
      check(canon(views[i].meta) === canon(views[0].meta), `client ${i} meta differs`)
      check(canon(views[i].list) === canon(views[0].list), `client ${i} list differs`)
      check(canon(views[i].textDelta) === canon(views[0].textDelta), `client ${i} textDelta differs`)
      check(Y.equalSnapshots(Y.snapshot(this.docs[i]), Y.snapshot(this.docs[0])), `client ${i} snapshot (sv+ds) differs`)
    }
    const updates = this.updates.map(u => u.update)
    const n = updates.length
    check(n > 0, 'no updates')

    // the receiver's client id: distinct from all clients
    const used = new Set(this.docs.map(d => d.clientID))
    do { this.receiverID = rng.uint32() } while (used.has(this.receiverID))
    const newReceiver = (cleanup = this.receiverCleanup) => {
      const d = new Y.Doc({ gc })
      d.clientID = this.receiverID
      if (!cleanup) disableFormattingCleanup(d)
      // instantiate the root types, as an app would. (Until getText('content') is
      // called, the root is a plain AbstractType and stock Yjs runs no formatting
      // cleanup on it at all.)
      d.getText('content'); d.getMap('meta'); d.getArray('list')
      return d
    }
    const clientSnap = Y.snapshot(this.docs[0])
    const strict = !this.receiverCleanup

    // in-order receiver, with checkpoints and the half-way state vector
    const half = Math.floor(n / 2)
    const cpSet = new Set([n - 1])
    while (cpSet.size < Math.min(5, n)) cpSet.add(rng.int(0, n - 1))
    const receiver = newReceiver()
    const checkpoints = []
    let halfSV = Y.encodeStateVector(receiver)
    for (let k = 0; k < n; k++) {
      if (k === half) halfSV = Y.encodeStateVector(receiver)
      Y.applyUpdate(receiver, updates[k])
      check(!isPending(receiver), `in-order delivery: update ${k} left pending structs`)
      if (cpSet.has(k)) {
        checkpoints.push({ after: k, text: receiver.getText('content').toString(), stateVector: b64(Y.encodeStateVector(receiver)) })
      }
    }
    const final = docView(receiver)
    const finalSV = Y.encodeStateVector(receiver)
    check(final.text === views[0].text, 'receiver text differs from clients')
    check(svEqual(receiver, this.docs[0]), 'receiver state vector differs from clients')
    check(canon(final.meta) === canon(views[0].meta), 'receiver meta differs')
    check(canon(final.list) === canon(views[0].list), 'receiver list differs')
    if (strict) {
      check(canon(final.textDelta) === canon(views[0].textDelta), 'receiver textDelta differs from clients')
      check(Y.equalSnapshots(Y.snapshot(receiver), clientSnap), 'receiver delete set differs from clients')
    }

    // what a stock Yjs receiver (formatting cleanup on) would end with, for the report
    {
      const d = newReceiver(true)
      for (const u of updates) Y.applyUpdate(d, u)
      this.stats.stockDeltaSame = canon(docView(d).textDelta) === canon(views[0].textDelta)
      this.stats.stockDeleteSetSame = Y.equalSnapshots(Y.snapshot(d), clientSnap)
    }

    // delivery orders
    const inOrder = [...Array(n).keys()]
    const perm = rng.shuffle(inOrder)
    const dup = rng.shuffle(inOrder)
    const ndup = Math.max(1, Math.round(n * 0.2))
    for (let i = 0; i < ndup; i++) {
      dup.splice(rng.int(0, dup.length), 0, rng.int(0, n - 1))
    }
    const deliveries = [inOrder, perm, dup]
    this.stats.pendingSteps = 0
    for (const [di, order] of deliveries.entries()) {
      const d = newReceiver()
      for (const k of order) {
        Y.applyUpdate(d, updates[k])
        if (di === 1 && isPending(d)) this.stats.pendingSteps++
      }
      check(!isPending(d), `delivery ${di}: pending structs left at the end`)
      check(d.getText('content').toString() === final.text, `delivery ${di}: text differs`)
      check(Buffer.compare(Y.encodeStateVector(d), finalSV) === 0, `delivery ${di}: state vector differs`)
      if (strict) {
        check(canon(docView(d)) === canon(final), `delivery ${di}: textDelta/meta/list differ`)
        check(Y.equalSnapshots(Y.snapshot(d), clientSnap), `delivery ${di}: delete set differs`)
      }
    }

    const merged = Y.mergeUpdates(updates)
    const svs = [Y.encodeStateVector(new Y.Doc()), halfSV, this.midStateVector ?? Y.encodeStateVector(this.docs[0])]
    const diffs = svs.map(sv => ({
      stateVector: sv,
      diff: Y.encodeStateAsUpdate(receiver, sv),
      diffFromUpdate: Y.diffUpdate(merged, sv)
    }))
    // sanity: the merged update, and each diff applied on top of the matching
    // state (nothing / the first half of the updates), give the final document
    const sameAsFinal = (d, what) => {
      check(!isPending(d), `${what}: pending`)
      check(d.getText('content').toString() === final.text, `${what}: text differs`)
      check(Buffer.compare(Y.encodeStateVector(d), finalSV) === 0, `${what}: state vector differs`)
      if (strict) {
        check(canon(docView(d)) === canon(final), `${what}: textDelta/meta/list differ`)
        check(Y.equalSnapshots(Y.snapshot(d), clientSnap), `${what}: delete set differs`)
      }
    }
    {
      const d = newReceiver()
      Y.applyUpdate(d, merged)
      sameAsFinal(d, 'stateV1Merged')
    }
    for (const key of ['diff', 'diffFromUpdate']) {
      for (const [i, base] of [[0, 0], [1, half]]) {
        const d = newReceiver()
        for (let k = 0; k < base; k++) Y.applyUpdate(d, updates[k])
        check(Buffer.compare(Y.encodeStateVector(d), diffs[i].stateVector) === 0, `diff ${i}: base state vector`)
        Y.applyUpdate(d, diffs[i][key])
        sameAsFinal(d, `diffs[${i}].${key}`)
      }
    }
    // the third state vector is a client's at some point: on top of that client's
    // state at that time, both diffs give the final document
    if (this.midState) {
      for (const key of ['diff', 'diffFromUpdate']) {
        const d = newReceiver()
        Y.applyUpdate(d, this.midState)
        check(Buffer.compare(Y.encodeStateVector(d), diffs[2].stateVector) === 0, 'diff 2: base state vector')
        Y.applyUpdate(d, diffs[2][key])
        sameAsFinal(d, `diffs[2].${key}`)
      }
    }
    const state = Y.encodeStateAsUpdate(receiver)
    check(Buffer.compare(Buffer.from(Y.encodeStateAsUpdate(receiver, svs[0])), Buffer.from(state)) === 0, 'state != diff against empty state vector')
    this.stats.mergedEqualsState = Buffer.compare(Buffer.from(merged), Buffer.from(state)) === 0
    this.stats.n = n
    this.stats.stateBytes = state.length
    this.stats.mergedBytes = merged.length

    return {
      yjs: YJS_VERSION,
      seed: this.seed,
      index: this.index,
      gc,
      clients: this.docs.map(d => d.clientID),
      updates: this.updates.map(u => ({ client: u.client, update: b64(u.update) })),
      deliveries,
      final: {
        text: final.text,
        textDelta: final.textDelta,
        meta: final.meta,
        list: final.list,
        stateVector: b64(finalSV),
        state: b64(state),
        stateV1Merged: b64(merged)
      },
      diffs: diffs.map(d => ({ stateVector: b64(d.stateVector), diff: b64(d.diff), diffFromUpdate: b64(d.diffFromUpdate) })),
      checkpoints
    }
  }
}

/**
 * Fixture JSON layout: top-level keys, updates, diffs and checkpoints one per
 * line; everything else compact. Plain JSON either way.
 */
export function formatFixture (obj) {
  const lines = []
  const keys = Object.keys(obj)
  keys.forEach((k, i) => {
    const v = obj[k]
    const comma = i < keys.length - 1 ? ',' : ''
    if (Array.isArray(v) && ['updates', 'deliveries', 'diffs', 'checkpoints'].includes(k)) {
      lines.push(` ${JSON.stringify(k)}: [`)
      v.forEach((e, j) => lines.push(`  ${JSON.stringify(e)}${j < v.length - 1 ? ',' : ''}`))
      lines.push(` ]${comma}`)
    } else if (k === 'final') {
      lines.push(` "final": {`)
      const fk = Object.keys(v)
      fk.forEach((f, j) => lines.push(`  ${JSON.stringify(f)}: ${JSON.stringify(v[f])}${j < fk.length - 1 ? ',' : ''}`))
      lines.push(` }${comma}`)
    } else {
      lines.push(` ${JSON.stringify(k)}: ${JSON.stringify(v)}${comma}`)
    }
  })
  const out = '{\n' + lines.join('\n') + '\n}\n'
  // must round-trip exactly
  if (JSON.stringify(JSON.parse(out)) !== JSON.stringify(obj)) throw new Error('formatFixture: round-trip mismatch')
  return out
}

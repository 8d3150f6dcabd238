// Tiny hand-made sessions, each isolating one feature. Same fixture format as
// the random sessions; seed is 0 and index numbers them. Client ids are fixed.

import * as Y from 'yjs'
import { Session, mulberry32 } from './session.mjs'

let receiverCleanup = false
const mk = (index, clientIDs, gc = true) =>
  new Session({ seed: 0, index, gc, clientIDs, rng: mulberry32(0xB451C + index), receiverCleanup })

// each edit its own transaction, like typing
const t = (s, c, f) => s.docs[c].transact(() => f(s.docs[c].getText('content'), s.docs[c]))

export function basicSessions (withReceiverCleanup = false) {
  receiverCleanup = withReceiverCleanup
  return [
    {
      // One client types; structs as in the "abhi" vector of YJS.md (client 264992024):
      // "xyz" (clock 0-2), "ab" at 0 (3-4), "c" after "b" (5), "d" at the end (6),
      // "hi" after "d" (7-8); then "c", "xyz", "d" deleted → "abhi".
      name: 'abhi',
      make: () => {
        const s = mk(0, [264992024])
        t(s, 0, x => x.insert(0, 'xyz'))
        t(s, 0, x => x.insert(0, 'ab'))
        t(s, 0, x => x.insert(2, 'c'))
        t(s, 0, x => x.insert(6, 'd'))
        t(s, 0, x => x.insert(7, 'hi'))
        t(s, 0, x => x.delete(2, 4)) // "cxyz"
        s.markMid(0)
        t(s, 0, x => x.delete(2, 1)) // "d"
        return s
      }
    },
    {
      // Two clients insert at the same position concurrently (YATA tie → lower client id first),
      // on an empty text and again in the middle of shared text; then a 3-way tie.
      name: 'concurrent-insert',
      make: () => {
        const s = mk(1, [1000, 2000, 1500])
        t(s, 0, x => x.insert(0, 'A'))
        t(s, 1, x => x.insert(0, 'B'))
        s.sync(0, 1)
        s.markMid(1)
        t(s, 0, x => x.insert(1, 'hello'))
        s.sync(0, 1)
        t(s, 0, x => x.insert(3, 'xx'))
        t(s, 1, x => x.insert(3, 'yy'))
        t(s, 1, x => x.insert(5, 'é😀'))
        s.sync(1, 2)
        t(s, 2, x => x.insert(3, 'zz'))
        s.sync(0, 1)
        s.sync(0, 2)
        s.sync(1, 2)
        return s
      }
    },
    {
      // A delete range that spans several items from different clients, starts and ends
      // inside items (splits), and one deleting across an emoji boundary (not inside it).
      name: 'delete-across',
      make: () => {
        const s = mk(2, [3333, 4444])
        t(s, 0, x => x.insert(0, 'hello'))
        t(s, 0, x => x.insert(5, ' world'))
        s.sync(0, 1)
        t(s, 1, x => x.insert(5, ',😀 big'))
        t(s, 1, x => x.insert(0, '>> '))
        s.sync(0, 1)
        s.markMid(0)
        // ">> hello,😀 big world": delete "llo,😀 big wo" (crosses 3 items, splits 2)
        t(s, 0, x => x.delete(5, 14))
        // concurrently client 1 deletes an overlapping range
        t(s, 1, x => x.delete(3, 4))
        s.sync(0, 1)
        return s
      }
    },
    {
      // Formatting: insert with attributes, format a range, remove an attribute
      // ({italic: null}), an embed, and concurrent formatting (triggers Yjs's
      // formatting cleanup on the receiving side).
      name: 'format',
      make: () => {
        const s = mk(3, [5555, 6666])
        t(s, 0, x => x.insert(0, 'plain bold italic'))
        t(s, 0, x => x.format(6, 4, { bold: true }))
        t(s, 0, x => x.format(11, 6, { italic: true }))
        t(s, 0, x => x.insert(17, '!', { bold: true }))
        t(s, 0, x => x.insertEmbed(5, { image: 'x.png' }))
        s.sync(0, 1)
        s.markMid(1)
        t(s, 1, x => x.format(0, 12, { bold: true }))
        t(s, 0, x => x.format(10, 8, { italic: null }))
        t(s, 0, x => x.insert(3, 'ß', { italic: true }))
        s.sync(0, 1)
        return s
      }
    },
    {
      // Map: concurrent overwrite of one key (higher client id wins), delete vs set,
      // values of every kind (ContentAny, and ContentBinary for a Uint8Array).
      name: 'map-conflict',
      make: () => {
        const s = mk(4, [7777, 8888])
        const m = c => s.docs[c].getMap('meta')
        s.docs[0].transact(() => {
          m(0).set('title', 'first')
          m(0).set('n', 1)
          m(0).set('gone', true)
        })
        s.sync(0, 1)
        s.markMid(0)
        s.docs[0].transact(() => m(0).set('title', 'from 7777'))
        s.docs[1].transact(() => m(1).set('title', 'from 8888'))
        s.docs[0].transact(() => m(0).delete('gone'))
        s.docs[1].transact(() => m(1).set('gone', 'revived'))
        s.docs[0].transact(() => m(0).set('n', 2 ** 40))
        s.docs[1].transact(() => {
          m(1).set('blob', new Uint8Array([0, 1, 254, 255]))
          m(1).set('obj', { z: 1, a: [0.5, null, 'ç'], 10: false })
        })
        s.sync(0, 1)
        return s
      }
    },
    {
      // Nested types: a Y.Map in "meta", a Y.Text in "list", edits to both, a concurrent
      // edit inside a nested type that the other client deletes (its content becomes
      // GC structs with gc on), and a map key overwritten by a type.
      name: 'nested',
      make: () => {
        const s = mk(5, [9999, 1111])
        s.docs[0].transact(() => {
          s.docs[0].getMap('meta').set('sub', new Y.Map())
          s.docs[0].getArray('list').insert(0, [1, new Y.Text('note'), 'x'])
        })
        s.docs[0].transact(() => {
          s.docs[0].getMap('meta').get('sub').set('a', 'A')
          s.docs[0].getArray('list').get(1).insert(4, ' 😀 more')
        })
        s.sync(0, 1)
        s.markMid(1)
        s.docs[1].transact(() => s.docs[1].getArray('list').get(1).insert(0, 'my '))
        s.docs[1].transact(() => s.docs[1].getMap('meta').get('sub').set('b', [1, 2]))
        s.docs[0].transact(() => s.docs[0].getArray('list').delete(1, 1))
        s.docs[0].transact(() => s.docs[0].getMap('meta').set('sub', new Y.Text('replaced')))
        s.sync(0, 1)
        s.docs[1].transact(() => s.docs[1].getMap('meta').get('sub').insert(0, '> '))
        s.sync(0, 1)
        return s
      }
    }
  ]
}

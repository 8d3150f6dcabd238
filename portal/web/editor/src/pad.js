// The pad editor: CodeMirror 6 bound to the pad's Yjs document.
//
// The page works without this script (the pad reads as HTML); with it,
// the pad becomes editable by everyone on the box at once: each visitor's
// cursor shows with their nickname and a colour, edits made while the
// WiFi is down are kept in the browser (IndexedDB) and merge when the
// connection returns. Nothing is loaded from outside the box.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence } from 'y-indexeddb'
import { yCollab } from 'y-codemirror.next'
import { EditorView, keymap, lineNumbers, drawSelection, highlightActiveLine } from '@codemirror/view'
import { EditorState, Compartment } from '@codemirror/state'
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands'
import { markdown } from '@codemirror/lang-markdown'
import { syntaxHighlighting, defaultHighlightStyle } from '@codemirror/language'

// A colour per nickname, readable on white and stable across visits.
const colourOf = name => {
  let h = 0
  for (const c of name) h = (h * 31 + c.codePointAt(0)) >>> 0
  const hue = h % 360
  return { color: `hsl(${hue} 70% 35%)`, light: `hsl(${hue} 70% 35% / 0.2)` }
}

// Close codes of the box's pad websocket: staff locked or unlocked the
// pad (here or at a linked box). The editor then starts again the other
// way: read-only, or editable.
const closeLocked = 4001
const closeUnlocked = 4002

const start = app => {
  const { pad, ws, connected, connecting, offline } = app.dataset
  // Someone who has not entered shows under the page's word for it.
  const nick = app.dataset.nick || app.dataset.anonymous
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const status = app.querySelector('.pad-status')
  const notice = document.getElementById('pad-locked')
  const { color, light } = colourOf(nick)
  let current = null

  // mount builds the document, its connection and the editor; a locked
  // pad gets them read-only, and keeps nothing in the browser.
  const mount = locked => {
    app.dataset.locked = locked ? '1' : '0'
    if (notice) {
      if (locked && notice.hidden) notice.textContent = app.dataset.lockedText
      notice.hidden = !locked
    }
    const doc = new Y.Doc()
    const text = doc.getText('content')
    // Kept in the browser: edits survive a dropped WiFi and a closed tab.
    const local = locked ? null : new IndexeddbPersistence('tiersbox-pad-' + pad, doc)
    const provider = new WebsocketProvider(`${scheme}//${location.host}${ws}`, pad, doc,
      { params: { mode: locked ? 'read' : 'edit' } })
    provider.awareness.setLocalStateField('user', { name: nick, color, colorLight: light })

    const show = s => {
      status.textContent = s === 'connected' ? connected : s === 'connecting' ? connecting : offline
      app.dataset.state = s
    }
    show('connecting')
    provider.on('status', e => show(e.status === 'connected' ? 'connected' : e.status === 'connecting' ? 'connecting' : 'offline'))
    provider.on('connection-close', e => {
      if (!e) return
      if (e.code === closeLocked && !locked) setTimeout(() => relock(true))
      if (e.code === closeUnlocked && locked) setTimeout(() => relock(false))
    })

    // Read-only until the pad's content is here (from the box or from this
    // device): keys typed before the first sync could race it and be lost.
    const editable = new Compartment()
    const view = new EditorView({
      parent: app.querySelector('.pad-editor'),
      state: EditorState.create({
        doc: text.toString(),
        extensions: [
          lineNumbers(),
          history(),
          drawSelection(),
          highlightActiveLine(),
          EditorView.lineWrapping,
          markdown(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          EditorView.contentAttributes.of({ 'aria-label': app.dataset.label || 'pad' }),
          editable.of(EditorState.readOnly.of(true)),
          yCollab(text, provider.awareness)
        ]
      })
    })

    let ready = false
    const unlock = () => {
      if (ready || locked) return
      ready = true
      view.dispatch({ effects: editable.reconfigure(EditorState.readOnly.of(false)) })
    }
    provider.once('sync', unlock)
    if (local) local.whenSynced.then(unlock)

    current = { doc, text, provider, local, view, locked }
    // For tests and curious people.
    window.tiersboxPad = current
  }

  // relock starts again read-only (locked) or editable. What this browser
  // kept of the pad is dropped when it locks: the box refused those
  // edits, and they must not come back when the pad is unlocked.
  const relock = async locked => {
    const old = current
    if (!old || old.locked === locked) return
    current = null
    old.provider.destroy()
    old.view.destroy()
    if (old.local) await old.local.clearData()
    old.doc.destroy()
    mount(locked)
  }

  mount(app.dataset.locked === '1')

  // The preview is the box's own rendering of the Markdown.
  const preview = app.querySelector('.pad-preview')
  const toggle = app.querySelector('.pad-preview-toggle')
  toggle.addEventListener('click', async () => {
    const open = preview.hidden
    preview.hidden = !open
    toggle.setAttribute('aria-expanded', String(open))
    if (!open) return
    try {
      const res = await fetch(`/pads/${encodeURIComponent(pad)}.html`)
      const page = new DOMParser().parseFromString(await res.text(), 'text/html')
      preview.replaceChildren(...page.body.childNodes)
    } catch {
      preview.textContent = offline
    }
  })
}

const app = document.getElementById('pad-app')
if (app) {
  app.hidden = false
  const plain = document.getElementById('pad-plain')
  if (plain) plain.hidden = true
  start(app)
}

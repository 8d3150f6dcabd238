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

const start = app => {
  const { pad, ws, connected, connecting, offline } = app.dataset
  // Someone who has not entered shows under the page's word for it.
  const nick = app.dataset.nick || app.dataset.anonymous
  const doc = new Y.Doc()
  const text = doc.getText('content')
  // Kept in the browser: edits survive a dropped WiFi and a closed tab.
  const local = new IndexeddbPersistence('tiersbox-pad-' + pad, doc)
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const provider = new WebsocketProvider(`${scheme}//${location.host}${ws}`, pad, doc)
  const { color, light } = colourOf(nick)
  provider.awareness.setLocalStateField('user', { name: nick, color, colorLight: light })

  const status = app.querySelector('.pad-status')
  const show = s => {
    status.textContent = s === 'connected' ? connected : s === 'connecting' ? connecting : offline
    app.dataset.state = s
  }
  show('connecting')
  provider.on('status', e => show(e.status === 'connected' ? 'connected' : e.status === 'connecting' ? 'connecting' : 'offline'))

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
        EditorView.contentAttributes.of({ 'aria-label': app.dataset.label }),
        editable.of(EditorState.readOnly.of(true)),
        yCollab(text, provider.awareness)
      ]
    })
  })

  let ready = false
  const unlock = () => {
    if (ready) return
    ready = true
    view.dispatch({ effects: editable.reconfigure(EditorState.readOnly.of(false)) })
  }
  provider.once('sync', unlock)
  local.whenSynced.then(unlock)

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

  // For tests and curious people.
  window.tiersboxPad = { doc, text, provider, local, view }
}

const app = document.getElementById('pad-app')
if (app) {
  app.hidden = false
  const plain = document.getElementById('pad-plain')
  if (plain) plain.hidden = true
  start(app)
}

// The chat page's live updates. Without this script the page still works:
// the form posts and the page reloads. Nothing a visitor wrote is ever
// inserted as HTML: messages are built with textContent, and only http
// and https addresses become links.
(function () {
  'use strict'
  var log = document.getElementById('chat-log')
  if (!log) return
  var list = log.querySelector('.messages')
  var status = document.querySelector('.chat-status')
  var form = document.getElementById('chat-form')
  var channel = log.dataset.channel
  var linkRe = /https?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]]/g

  // The log scrolls by itself; the newest message stays in view unless the
  // visitor scrolled up to read.
  log.classList.add('live')
  var atBottom = function () { return log.scrollHeight - log.scrollTop - log.clientHeight < 40 }
  log.scrollTop = log.scrollHeight

  function textWithLinks (p, text) {
    var last = 0
    text.replace(linkRe, function (url, at) {
      if (at > last) p.appendChild(document.createTextNode(text.slice(last, at)))
      var a = document.createElement('a')
      try {
        var u = new URL(url)
        if (u.protocol === 'http:' || u.protocol === 'https:') {
          a.href = u.href
          a.rel = 'noopener noreferrer nofollow'
        }
      } catch (e) {}
      a.textContent = url
      p.appendChild(a)
      last = at + url.length
      return url
    })
    if (last < text.length) p.appendChild(document.createTextNode(text.slice(last)))
  }

  function deleteForm (id) {
    var f = document.createElement('form')
    f.method = 'post'
    f.action = '/chat/' + encodeURIComponent(channel) + '/delete'
    f.className = 'delete'
    var input = document.createElement('input')
    input.type = 'hidden'
    input.name = 'id'
    input.value = id
    var b = document.createElement('button')
    b.type = 'submit'
    b.textContent = log.dataset.delete
    f.appendChild(input)
    f.appendChild(b)
    return f
  }

  function add (m) {
    if (document.getElementById('m-' + m.id)) return
    var stick = atBottom()
    var empty = list.querySelector('.empty')
    if (empty) empty.remove()
    var li = document.createElement('li')
    li.id = 'm-' + m.id
    var meta = document.createElement('p')
    meta.className = 'meta'
    var nick = document.createElement('strong')
    nick.className = 'nick'
    nick.textContent = m.nick
    var time = document.createElement('time')
    time.dateTime = m.time
    time.textContent = m.local
    meta.appendChild(nick)
    meta.appendChild(document.createTextNode(' '))
    meta.appendChild(time)
    var p = document.createElement('p')
    p.className = 'text'
    textWithLinks(p, m.text)
    li.appendChild(meta)
    li.appendChild(p)
    if (m.mine) li.appendChild(deleteForm(m.id))
    li.dataset.order = m.order
    // Messages sort by their clock time: one written earlier at another
    // box, and arriving now, takes its place among the others.
    var next = null
    var items = list.querySelectorAll('li[data-order]')
    for (var i = items.length - 1; i >= 0 && items[i].dataset.order > m.order; i--) next = items[i]
    list.insertBefore(li, next)
    if (stick) log.scrollTop = log.scrollHeight
  }

  function remove (id) {
    var li = document.getElementById('m-' + id)
    if (li) li.remove()
  }

  function say (text) { if (status) status.textContent = text }

  // Posting and deleting without leaving the page.
  function send (f, done) {
    var body = new URLSearchParams(new FormData(f))
    return fetch(f.action, { method: 'POST', body: body, headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (res) {
        return res.json().then(function (data) {
          if (!res.ok) throw new Error(data.error || res.statusText)
          done(data)
        })
      })
  }

  function showError (text) {
    var e = document.getElementById('chat-error')
    if (!e) {
      e = document.createElement('p')
      e.id = 'chat-error'
      e.className = 'error'
      e.setAttribute('role', 'alert')
      form.insertBefore(e, form.firstChild)
    }
    e.textContent = text
  }

  if (form) {
    var area = form.querySelector('textarea')
    form.addEventListener('submit', function (ev) {
      ev.preventDefault()
      var sent = area.value
      send(form, function (m) {
        // Only what was sent (give or take the new line of the Enter
        // that sent it): the visitor may already be typing the next.
        if (area.value.trim() === sent.trim()) area.value = ''
        var e = document.getElementById('chat-error')
        if (e) e.remove()
        add(m)
        log.scrollTop = log.scrollHeight
      }).catch(function (err) { showError(err.message) })
    })
    // Enter sends, Shift+Enter starts a new line, as in most chats.
    area.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault()
        form.requestSubmit()
      }
    })
  }

  list.addEventListener('submit', function (ev) {
    var f = ev.target
    if (!f.classList.contains('delete')) return
    ev.preventDefault()
    send(f, function (data) { remove(data.deleted) }).catch(function (err) { say(err.message) })
  })

  if (log.dataset.live !== '1') return
  var delay = 1000
  function connect () {
    var proto = location.protocol === 'https:' ? 'wss://' : 'ws://'
    var ws = new WebSocket(proto + location.host + '/ws/chat/' + encodeURIComponent(channel))
    ws.onopen = function () { delay = 1000; say(log.dataset.connected) }
    ws.onmessage = function (ev) {
      var e
      try { e = JSON.parse(ev.data) } catch (err) { return }
      if (e.type === 'post' && e.message) add(e.message)
      else if (e.type === 'remove') remove(e.id)
      else if (e.type === 'clear') while (list.firstChild) list.firstChild.remove()
    }
    ws.onclose = function () {
      say(log.dataset.offline)
      setTimeout(connect, delay)
      delay = Math.min(delay * 2, 30000)
    }
  }
  connect()
})()

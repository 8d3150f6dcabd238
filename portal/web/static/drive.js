// Uploads with a progress bar. Without this script the form posts as it
// is and the page reloads when the files are in.
(function () {
  'use strict'
  var form = document.getElementById('drive-form')
  if (!form || !window.FormData || !window.XMLHttpRequest) return
  var bar = document.getElementById('drive-progress')
  var button = form.querySelector('button[type="submit"]')

  function showError (text) {
    var e = document.getElementById('drive-error')
    if (!e) {
      e = document.createElement('p')
      e.id = 'drive-error'
      e.className = 'error'
      e.setAttribute('role', 'alert')
      form.insertBefore(e, form.querySelector('h2').nextSibling)
    }
    e.textContent = text
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault()
    var xhr = new XMLHttpRequest()
    xhr.open('POST', form.action)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) bar.value = Math.floor(100 * e.loaded / e.total)
    }
    xhr.onload = function () {
      var data = {}
      try { data = JSON.parse(xhr.responseText) } catch (err) {}
      button.disabled = false
      if (xhr.status === 200) {
        var q = new URLSearchParams()
        var folder = form.elements.folder.value
        if (folder) q.set('folder', folder)
        ;(data.added || []).forEach(function (p) { q.append('added', p) })
        location.href = '/drive?' + q.toString()
        return
      }
      bar.hidden = true
      showError(data.error || xhr.statusText)
    }
    xhr.onerror = function () {
      button.disabled = false
      bar.hidden = true
      showError(form.dataset.offline || 'Error')
    }
    bar.value = 0
    bar.hidden = false
    button.disabled = true
    xhr.send(new FormData(form))
  })
})()

package web

import (
	"bytes"
	"errors"
	"io"
	"path"

	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
	"golang.org/x/text/unicode/norm"

	"tiersbox/box/pad"
	"tiersbox/box/ydoc"
)

// markdown renders pads. goldmark's default leaves raw HTML out, so
// nothing a visitor writes can run in another visitor's browser; and an
// image from outside the box becomes a link to it, so that no page (nor
// a pad saved as a web page) loads anything from outside.
var markdown = goldmark.New(goldmark.WithParserOptions(
	parser.WithASTTransformers(util.Prioritized(outsideImages{}, 100)),
))

// rulesMarkdown renders the house rules, which pages show under a level-2
// heading: their own headings start at level 3, so a page keeps one h1
// and an order of headings a screen reader can follow.
var rulesMarkdown = goldmark.New(goldmark.WithParserOptions(
	parser.WithASTTransformers(util.Prioritized(outsideImages{}, 100), util.Prioritized(headingsBelow{2}, 300)),
))

// headingsBelow moves every heading of a document down by its number of
// levels (at most to level 6).
type headingsBelow struct{ by int }

func (h headingsBelow) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if hd, ok := n.(*ast.Heading); ok && entering {
			hd.Level = min(6, hd.Level+h.by)
		}
		return ast.WalkContinue, nil
	})
}

// renderRules is renderMarkdown for the house rules.
func renderRules(src string) (template.HTML, error) {
	var b bytes.Buffer
	if err := rulesMarkdown.Convert([]byte(src), &b); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

// outsideImages turns images whose address leaves the box into links.
type outsideImages struct{}

func (outsideImages) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	var images []*ast.Image
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if img, ok := n.(*ast.Image); ok && entering && outside(string(img.Destination)) {
			images = append(images, img)
		}
		return ast.WalkContinue, nil
	})
	for _, img := range images {
		link := ast.NewLink()
		link.Destination, link.Title = img.Destination, img.Title
		for c := img.FirstChild(); c != nil; {
			next := c.NextSibling()
			link.AppendChild(link, c)
			c = next
		}
		img.Parent().ReplaceChild(img.Parent(), img, link)
	}
}

// outside reports whether an address names another host (or one the
// browser would resolve to another host), rather than a path on the box
// or inline data.
func outside(dest string) bool {
	u, err := url.Parse(strings.TrimSpace(dest))
	if err != nil {
		return true
	}
	return u.Host != "" || (u.Scheme != "" && u.Scheme != "data") || strings.HasPrefix(strings.TrimSpace(dest), "//") || strings.Contains(dest, `\`)
}

func renderMarkdown(src string) (template.HTML, error) {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(src), &b); err != nil {
		return "", err
	}
	// goldmark escapes text and drops raw HTML; what it returns is safe.
	return template.HTML(b.String()), nil
}

// padList is one row of the pad list.
type padList struct {
	Name, Title string
	Updated     string
	Flags       pad.Flags
}

// padsShow lists the pads, newest first, filtered by title with ?q=.
func (s *Server) padsShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, s.currentVisitor(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	list, err := s.opts.Pads.List()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	p.Query = q
	needle := strings.ToLower(q)
	// Archived pads are left out; staff list them alone with ?archived=1.
	p.IsStaff = s.isStaff(r)
	archived := p.IsStaff && r.URL.Query().Get("archived") == "1"
	p.PadFlags.Archived = archived
	for _, info := range list {
		if needle != "" && !strings.Contains(strings.ToLower(info.Title), needle) && !strings.Contains(info.Name, needle) {
			continue
		}
		if info.Flags.Archived != archived {
			continue
		}
		p.Pads = append(p.Pads, padList{Name: info.Name, Title: info.Title, Updated: formatWhen(info.Updated, p.Lang), Flags: info.Flags})
	}
	s.render(w, r, http.StatusOK, "pads", p)
}

func formatWhen(t time.Time, lang string) string {
	return t.Local().Format(translate(lang, "format.when"))
}

// slug turns a title into a pad name: letters and digits, the rest as
// dashes, accents dropped.
func slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(title) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToLower(r))
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// maxImport bounds an imported file: a long pad is tens of kilobytes.
const maxImport = 1 << 20

// padCreate makes a pad with a title and sends the visitor to it.
func (s *Server) padCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "error.badrequest")
		return
	}
	title, ok := cleanTitle(r.PostForm.Get("title"))
	if !ok {
		s.renderError(w, r, http.StatusBadRequest, "error.padtitle")
		return
	}
	s.newPad(w, r, title, "# "+title+"\n\n")
}

// padImport makes a pad from an uploaded .txt or .md file.
func (s *Server) padImport(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxImport+64<<10, true) {
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, "error.padimport")
		return
	}
	defer f.Close()
	ext := strings.ToLower(path.Ext(hdr.Filename))
	body, err := io.ReadAll(io.LimitReader(f, maxImport+1))
	if err != nil || len(body) > maxImport || (ext != ".txt" && ext != ".md") || !utf8.Valid(body) {
		s.renderError(w, r, http.StatusBadRequest, "error.padimport")
		return
	}
	title, ok := cleanTitle(r.PostForm.Get("title"))
	if !ok {
		title, ok = cleanTitle(strings.TrimSuffix(path.Base(hdr.Filename), path.Ext(hdr.Filename)))
	}
	if !ok {
		title = "import"
	}
	s.newPad(w, r, title, strings.ReplaceAll(string(body), "\r\n", "\n"))
}

// cleanTitle checks a title: one line, at most pad.MaxTitle characters.
func cleanTitle(t string) (string, bool) {
	t = strings.Join(strings.Fields(t), " ")
	ok := t != "" && utf8.RuneCountInString(t) <= pad.MaxTitle && !strings.ContainsFunc(t, unicode.IsControl)
	return t, ok
}

// newPad creates a pad under a free name made from title, with text, as
// the visitor's edit, and sends them to it.
func (s *Server) newPad(w http.ResponseWriter, r *http.Request, title, text string) {
	base := slug(title)
	if base == "" {
		base = "pad"
	}
	list, err := s.opts.Pads.List()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	taken := make(map[string]bool, len(list))
	for _, info := range list {
		taken[info.Name] = true
	}
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	p, err := s.opts.Pads.Open(name)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	author := s.authorOf(r)
	err = p.Edit(author, func(d *ydoc.Doc) error {
		if err := d.Map(pad.MetaName).Set("title", title); err != nil {
			return err
		}
		return d.Text(pad.ContentName).Insert(0, text)
	})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// Listed at once, not only after the journal's next second.
	if err := p.Flush(); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/pads/"+url.PathEscape(name), http.StatusSeeOther)
}

// padShow shows a pad, or one of its exports when the name ends in .txt,
// .md or .html. Visiting a pad that does not exist creates it, as
// Etherpad does: it is empty until someone writes.
func (s *Server) padShow(w http.ResponseWriter, r *http.Request) {
	name, ext := r.PathValue("name"), ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		name, ext = name[:i], name[i:]
	}
	if !pad.ValidName(name) || (ext != "" && ext != ".txt" && ext != ".md" && ext != ".html") {
		s.renderError(w, r, http.StatusBadRequest, "error.padname")
		return
	}
	p, err := s.opts.Pads.Open(name)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	text, title := p.Text(), p.Title()
	switch ext {
	case ".txt", ".md":
		ct := "text/plain; charset=utf-8"
		if ext == ".md" {
			ct = "text/markdown; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+ext))
		w.Write([]byte(text))
		return
	}
	html, err := renderMarkdown(text)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if ext == ".html" {
		var b bytes.Buffer
		err := exportTemplate.Execute(&b, map[string]any{"Title": title, "Body": html})
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+ext))
		w.Write(b.Bytes())
		return
	}
	pg, err := s.newPage(r, s.currentVisitor(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	pg.PadName, pg.PadTitle, pg.PadHTML, pg.PadEmpty = name, title, html, strings.TrimSpace(text) == ""
	pg.PadFlags, pg.IsStaff = p.Flags(), s.isStaff(r)
	s.render(w, r, http.StatusOK, "pad", pg)
}

// exportTemplate is a pad as a standalone page, readable offline.
var exportTemplate = template.Must(template.New("export").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title></head>
<body>
{{.Body}}
</body></html>
`))

// padPage checks the request's pad name, opens the pad and starts its
// page; on an error it answers itself and returns nil.
func (s *Server) padPage(w http.ResponseWriter, r *http.Request) *page {
	name := r.PathValue("name")
	if !pad.ValidName(name) {
		s.renderError(w, r, http.StatusBadRequest, "error.padname")
		return nil
	}
	p, err := s.opts.Pads.Open(name)
	if err != nil {
		s.serverError(w, r, err)
		return nil
	}
	pg, err := s.newPage(r, s.currentVisitor(r))
	if err != nil {
		s.serverError(w, r, err)
		return nil
	}
	pg.PadName, pg.PadTitle, pg.PadFlags = name, p.Title(), p.Flags()
	return pg
}

// versionRow is one line of a pad's history.
type versionRow struct {
	ID, When, Author string
}

// authorName shows a pseudonym as the nickname of its session, while the
// session lasts.
func (s *Server) authorName(id, lang string) string {
	if id == "" {
		return translate(lang, "history.someone")
	}
	if v, err := s.opts.Visitors.ByPseudonym(id); err == nil {
		return v.Nickname
	}
	return translate(lang, "history.visitor") + " " + id[:min(4, len(id))]
}

// padHistory lists a pad's versions, newest first, with who made them;
// ?author= keeps one author's.
func (s *Server) padHistory(w http.ResponseWriter, r *http.Request) {
	pg := s.padPage(w, r)
	if pg == nil {
		return
	}
	versions, err := s.opts.Pads.History(pg.PadName)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	only := r.URL.Query().Get("author")
	for _, v := range versions {
		author := s.authorName(v.Author, pg.Lang)
		if only != "" && author != only {
			continue
		}
		pg.Versions = append(pg.Versions, versionRow{ID: v.ID, When: formatWhen(v.Time, pg.Lang), Author: author})
	}
	pg.Query = only
	s.render(w, r, http.StatusOK, "history", pg)
}

// padVersion shows a pad as it was at one version, with a button to
// restore it.
func (s *Server) padVersion(w http.ResponseWriter, r *http.Request) {
	pg := s.padPage(w, r)
	if pg == nil {
		return
	}
	text, v, err := s.opts.Pads.At(pg.PadName, r.PathValue("version"))
	if errors.Is(err, pad.ErrNoVersion) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	html, err := renderMarkdown(text)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	pg.PadHTML, pg.PadEmpty = html, strings.TrimSpace(text) == ""
	pg.Versions = []versionRow{{ID: v.ID, When: formatWhen(v.Time, pg.Lang), Author: s.authorName(v.Author, pg.Lang)}}
	s.render(w, r, http.StatusOK, "version", pg)
}

// padRestore makes a past version the pad's text again, as a new edit.
func (s *Server) padRestore(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !pad.ValidName(name) || r.ParseForm() != nil {
		s.renderError(w, r, http.StatusBadRequest, "error.badrequest")
		return
	}
	author := s.authorOf(r)
	err := s.opts.Pads.Restore(name, r.PostForm.Get("version"), author)
	if errors.Is(err, pad.ErrNoVersion) {
		s.notFound(w, r)
		return
	}
	if errors.Is(err, pad.ErrLocked) {
		s.renderError(w, r, http.StatusLocked, "pad.locked.restore")
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/pads/"+url.PathEscape(name), http.StatusSeeOther)
}

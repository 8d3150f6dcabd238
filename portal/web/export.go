package web

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/url"
	"path"
	"slices"
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

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/pad"
	"tiersbox/box/settings"
	"tiersbox/box/store"
)

// The venue's documentation as a static website in a ZIP ("leave
// traces"): an index page, every pad as HTML and Markdown, every
// channel's transcript, and the drive's files with a page that lists
// their authors and licences. It reads offline in any browser once
// unpacked, and can be published as it is: relative links only, one
// small stylesheet inside each page, no script, nothing from outside.
//
// What moderation took away stays out: removed and deleted messages are
// no longer in the channels, and files staff hid are left out.
//
// The staff page /admin/export offers it for download; `tiersbox export`
// writes the same ZIP from the command line (cmd/tiersbox/export.go).

// ExportSources are what WriteExport reads. Store is required; a nil
// service leaves its part out of the export.
type ExportSources struct {
	// Store holds the settings: the venue's name, description, house
	// rules and licence.
	Store *store.Store
	Pads  *pad.Service
	Chat  *chat.Service
	Drive *drive.Service
	// Lang is the language of the pages; "" means the venue's default
	// language (the first it offers).
	Lang string
	// Now is the date of the export; the zero value means time.Now().
	Now time.Time
	// Version is the tiersbox version named in the pages' footer.
	Version string
	// Logger hears about files skipped (a file removed while the export
	// ran). nil discards.
	Logger *slog.Logger
}

// ExportFileName is the name a ZIP made at t is offered under: the
// venue's name as ASCII letters, digits and dashes, and the date, such
// as "la-fabrique-2026-11-29.zip".
func ExportFileName(venue string, t time.Time) string {
	base := slug(venue)
	if base == "" {
		base = "tiersbox"
	}
	return base + "-" + t.Format("2006-01-02") + ".zip"
}

// exportPage is what the export's templates receive.
type exportPage struct {
	Lang    string
	Venue   string
	Title   string
	Root    template.URL // the way back to the folder of index.html: "" or "../"
	Licence string
	Date    string
	ISODate string
	Version string

	// index.html
	Description []string
	Rules       template.HTML
	Pads        []exportPad
	Channels    []exportChannel
	HasDrive    bool
	DriveFiles  int
	DriveSize   string

	// pads/NAME.html
	Pad *exportPad
	// chat/CHANNEL.html
	Channel *exportChannel
	// drive/index.html
	Folders []exportFolder
}

type exportPad struct {
	Name, Title string
	HTML, MD    template.URL // links from index.html
	OwnMD       template.URL // the Markdown, from the pad's page
	Body        template.HTML
	Empty       bool
	// OwnHeading: the pad's text starts its own main heading, so the
	// page does not add its title as one.
	OwnHeading bool
	Chat       template.URL // the side channel's transcript, from the pad's page; "" for none
	zipHTML    string
	zipMD      string
}

type exportChannel struct {
	Name     string
	Archived bool
	HTML     template.URL // links from index.html
	Text     template.URL
	OwnText  template.URL // the text, from the channel's page
	Messages []exportMessage
	zipHTML  string
	zipText  string
}

type exportMessage struct {
	ISO, When, Nick string
	Parts           []textPart
}

type exportFolder struct {
	Name  string // "" for the top of the drive
	Files []exportFile
}

type exportFile struct {
	drive.File
	URL                     template.URL
	SizeText, When, Licence string
	// Download: not an image, sound, video or PDF. As on the box, the
	// link downloads it rather than opening it: a visitor's web page
	// published with the export must not run as the venue's site.
	Download bool
}

// WriteExport writes the ZIP to w, streaming the drive's files from disk.
// On an error, what was written is not a usable ZIP (its directory, at the
// end, is missing): callers write to a temporary file, or abort the
// download.
func WriteExport(ctx context.Context, w io.Writer, src ExportSources) error {
	if src.Store == nil {
		return errors.New("export: Store is required")
	}
	e, err := newExporter(src)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	e.zip = &zipSite{zw: zw, taken: make(map[string]bool), modified: e.now}
	// The pages first, so that no drive file takes their names.
	e.zip.reserve([]string{"index"}, ".html")
	e.zip.reserve([]string{"drive", "index"}, ".html")
	// The drive first: the pads' links to its files, and its index, name
	// only the files that made it into the ZIP.
	for _, step := range []func(context.Context) error{e.writeDriveFiles, e.writePads, e.writeChannels, e.writeDriveIndex, e.writeIndex} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("export: finish the zip: %w", err)
	}
	return nil
}

// exporter builds one export.
type exporter struct {
	src    ExportSources
	lang   string
	now    time.Time
	st     settings.Settings
	tmpl   *template.Template
	logger *slog.Logger
	zip    *zipSite

	pads     []exportPad
	channels []exportChannel
	files    []exportFile
	// byBoxPath maps a path on the box (/pads/NAME, /drive/PATH…) to the
	// ZIP entry that holds it, for links written in pads and rules.
	byBoxPath map[string]string
}

func newExporter(src ExportSources) (*exporter, error) {
	st, err := settings.Load(src.Store)
	if err != nil {
		return nil, err
	}
	lang := src.Lang
	if lang == "" {
		lang = st.Offered()[0]
	}
	if _, ok := catalog[lang]; !ok {
		lang = "fr"
	}
	now := src.Now
	if now.IsZero() {
		now = time.Now()
	}
	logger := src.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"t": func(key string, args ...any) string { return translate(lang, key, args...) },
	}).ParseFS(templateFS, "templates/export.html")
	if err != nil {
		return nil, fmt.Errorf("export: parse templates: %w", err)
	}
	return &exporter{src: src, lang: lang, now: now, st: st, tmpl: tmpl, logger: logger,
		byBoxPath: map[string]string{"/": "index.html", "/welcome": "index.html", "/pads": "index.html#pads", "/chat": "index.html#chat"}}, nil
}

// page fills what every page shows.
func (e *exporter) page(title, root string) *exportPage {
	lic := e.st.Licence
	if lic == "" {
		lic = settings.DefaultLicence
	}
	return &exportPage{
		Lang: e.lang, Venue: e.st.Venue, Title: title, Root: template.URL(root),
		Licence: licenceLabel(e.lang, lic), Date: formatDate(e.now, e.lang), ISODate: e.now.Format("2006-01-02"),
		Version: e.src.Version,
	}
}

// formatDate writes a day the way people read it in lang.
func formatDate(t time.Time, lang string) string {
	if lang == "fr" {
		return t.Format("02/01/2006")
	}
	return t.Format("2006-01-02")
}

// render executes one of export.html's templates into a ZIP entry.
func (e *exporter) render(name, tmpl string, p *exportPage) error {
	var b bytes.Buffer
	if err := e.tmpl.ExecuteTemplate(&b, tmpl, p); err != nil {
		return fmt.Errorf("export: render %s: %w", name, err)
	}
	return e.zip.write(name, b.Bytes())
}

// writeDriveFiles copies every file visitors can see into drive/, under its
// folders.
func (e *exporter) writeDriveFiles(ctx context.Context) error {
	if e.src.Drive == nil {
		return nil
	}
	files, err := e.src.Drive.ListAll(drive.ListOptions{})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// By folder and name, as the drive's page will list them.
	slices.SortFunc(files, func(a, b drive.File) int {
		if c := strings.Compare(a.Folder, b.Folder); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, err := e.driveFile(ctx, f)
		if errors.Is(err, drive.ErrNotFound) || errors.Is(err, drive.ErrMissing) {
			// Removed while the export ran, or not yet arrived from
			// another box: there is nothing to copy.
			e.logger.Warn("a drive file was left out of the export", "path", f.Path, "error", err)
			continue
		}
		if err != nil {
			return err
		}
		e.byBoxPath["/drive/"+f.Path] = name
		e.files = append(e.files, exportFile{File: f, URL: relURL("drive/", name),
			SizeText: formatSize(f.Size, e.lang), When: formatWhen(f.Time, e.lang), Licence: e.fileLicence(f),
			Download: kindOf(f.ContentType) == "other"})
	}
	e.byBoxPath["/drive"] = "drive/index.html"
	return nil
}

// driveFile streams one file into the ZIP and returns its entry's name.
func (e *exporter) driveFile(ctx context.Context, f drive.File) (string, error) {
	fh, _, err := e.src.Drive.Open(f.Path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	segs := append([]string{"drive"}, strings.Split(f.Path, "/")...)
	// Photos, sound and video are compressed already: stored as they are,
	// a large drive exports at the speed of the disk.
	w, name, err := e.zip.create(segs, zip.Store, f.Time)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, ctxReader{ctx, fh}); err != nil {
		return "", fmt.Errorf("export: copy %s: %w", f.Path, err)
	}
	return name, nil
}

// fileLicence says what a file is shared under.
func (e *exporter) fileLicence(f drive.File) string {
	if f.Licence == "" {
		return translate(e.lang, "export.drive.nolicence")
	}
	return licenceLabel(e.lang, f.Licence)
}

// writePads writes each pad as pads/NAME.html and pads/NAME.md.
func (e *exporter) writePads(ctx context.Context) error {
	if e.src.Pads == nil {
		return nil
	}
	list, err := e.src.Pads.List()
	if err != nil {
		return fmt.Errorf("export: list pads: %w", err)
	}
	slices.SortFunc(list, func(a, b pad.Info) int { return strings.Compare(a.Name, b.Name) })
	type padText struct {
		exportPad
		text string
	}
	var all []padText
	// Names first, so that pads can link to one another.
	for _, info := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := e.src.Pads.Open(info.Name)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		ep := exportPad{Name: info.Name, Title: p.Title()}
		ep.zipHTML = e.zip.reserve([]string{"pads", info.Name}, ".html")
		ep.zipMD = e.zip.reserve([]string{"pads", info.Name}, ".md")
		ep.HTML, ep.MD, ep.OwnMD = relURL("", ep.zipHTML), relURL("", ep.zipMD), relURL("pads/", ep.zipMD)
		e.byBoxPath["/pads/"+info.Name] = ep.zipHTML
		e.byBoxPath["/pads/"+info.Name+".html"] = ep.zipHTML
		e.byBoxPath["/pads/"+info.Name+".md"] = ep.zipMD
		e.byBoxPath["/pads/"+info.Name+".txt"] = ep.zipMD
		all = append(all, padText{ep, p.Text()})
	}
	// The side channels are written after the pads: their names are
	// known here, so each pad can link to its own.
	if err := e.listChannels(); err != nil {
		return err
	}
	for _, pt := range all {
		ep := pt.exportPad
		md := newExportMarkdown("/pads/"+ep.Name, e.link(path.Dir(ep.zipHTML)+"/"))
		var b bytes.Buffer
		if err := md.Convert([]byte(pt.text), &b); err != nil {
			return fmt.Errorf("export: render pad %s: %w", ep.Name, err)
		}
		// goldmark escapes text and drops raw HTML; what it returns is safe.
		ep.Body, ep.Empty = template.HTML(b.String()), strings.TrimSpace(pt.text) == ""
		ep.OwnHeading = strings.HasPrefix(b.String(), "<h1")
		if z, ok := e.byBoxPath["/chat/"+chat.PadPrefix+ep.Name]; ok {
			ep.Chat = relURL("pads/", z)
		}
		p := e.page(ep.Title, "../")
		p.Pad = &ep
		if err := e.render(ep.zipHTML, "export-pad", p); err != nil {
			return err
		}
		if err := e.zip.write(ep.zipMD, []byte(pt.text)); err != nil {
			return err
		}
		e.pads = append(e.pads, ep)
	}
	return nil
}

// listChannels finds the channels to export and their names in the ZIP:
// the default channel and those staff created (archived ones too: what
// was said there is part of the record), then each pad's side channel
// that holds a message.
func (e *exporter) listChannels() error {
	if e.src.Chat == nil || e.channels != nil {
		return nil
	}
	chans, err := e.src.Chat.Channels(true)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if e.src.Pads != nil {
		list, err := e.src.Pads.List()
		if err != nil {
			return fmt.Errorf("export: list pads: %w", err)
		}
		slices.SortFunc(list, func(a, b pad.Info) int { return strings.Compare(a.Name, b.Name) })
		for _, info := range list {
			name := chat.PadPrefix + info.Name
			page, err := e.src.Chat.History(name, "", 1)
			if err != nil {
				return fmt.Errorf("export: channel %s: %w", name, err)
			}
			if len(page.Messages) > 0 {
				chans = append(chans, chat.Channel{Name: name})
			}
		}
	}
	e.channels = []exportChannel{}
	for _, c := range chans {
		ec := exportChannel{Name: c.Name, Archived: c.Archived}
		ec.zipHTML = e.zip.reserve([]string{"chat", c.Name}, ".html")
		ec.zipText = e.zip.reserve([]string{"chat", c.Name}, ".txt")
		ec.HTML, ec.Text, ec.OwnText = relURL("", ec.zipHTML), relURL("", ec.zipText), relURL("chat/", ec.zipText)
		e.byBoxPath["/chat/"+c.Name] = ec.zipHTML
		e.byBoxPath["/chat/"+c.Name+".txt"] = ec.zipText
		e.channels = append(e.channels, ec)
	}
	return nil
}

// writeChannels writes each channel's transcript as chat/CHANNEL.html and
// chat/CHANNEL.txt, oldest message first.
func (e *exporter) writeChannels(ctx context.Context) error {
	if e.src.Chat == nil {
		return nil
	}
	if err := e.listChannels(); err != nil {
		return err
	}
	for i := range e.channels {
		if err := ctx.Err(); err != nil {
			return err
		}
		ec := &e.channels[i]
		var txt strings.Builder
		fmt.Fprintf(&txt, "# %s\n\n", ec.Name)
		err := e.src.Chat.All(ec.Name, func(m chat.Message) error {
			when := m.Time.Wall()
			ec.Messages = append(ec.Messages, exportMessage{ISO: when.UTC().Format(time.RFC3339),
				When: formatWhen(when, e.lang), Nick: m.Nick, Parts: linkify(m.Text)})
			fmt.Fprintf(&txt, "[%s] %s: %s\n", when.Local().Format("2006-01-02 15:04"), m.Nick, strings.ReplaceAll(m.Text, "\n", "\n    "))
			return nil
		})
		if err != nil {
			return fmt.Errorf("export: channel %s: %w", ec.Name, err)
		}
		p := e.page("#"+ec.Name, "../")
		p.Channel = ec
		if err := e.render(ec.zipHTML, "export-chat", p); err != nil {
			return err
		}
		if err := e.zip.write(ec.zipText, []byte(txt.String())); err != nil {
			return err
		}
		// The page is written: the index needs only the names.
		ec.Messages = nil
	}
	return nil
}

// writeDriveIndex writes drive/index.html: the files by folder, with who
// added them and their licences.
func (e *exporter) writeDriveIndex(context.Context) error {
	if e.src.Drive == nil {
		return nil
	}
	p := e.page(translate(e.lang, "export.drive.title"), "../")
	for _, f := range e.files {
		if n := len(p.Folders); n == 0 || p.Folders[n-1].Name != f.Folder {
			p.Folders = append(p.Folders, exportFolder{Name: f.Folder})
		}
		p.Folders[len(p.Folders)-1].Files = append(p.Folders[len(p.Folders)-1].Files, f)
	}
	return e.render("drive/index.html", "export-drive", p)
}

// writeIndex writes index.html, which leads to everything else.
func (e *exporter) writeIndex(context.Context) error {
	p := e.page(translate(e.lang, "export.index.title"), "")
	p.Description = splitLines(e.st.Description)
	if strings.TrimSpace(e.st.Rules) != "" {
		var b bytes.Buffer
		if err := newExportMarkdown("/", e.link(""), 2).Convert([]byte(e.st.Rules), &b); err != nil {
			return fmt.Errorf("export: render the house rules: %w", err)
		}
		p.Rules = template.HTML(b.String())
	}
	p.Pads, p.Channels = e.pads, e.channels
	if e.src.Drive != nil {
		p.HasDrive, p.DriveFiles = true, len(e.files)
		var size int64
		for _, f := range e.files {
			size += f.Size
		}
		p.DriveSize = formatSize(size, e.lang)
	}
	return e.render("index.html", "export-index", p)
}

// link returns the function that turns an address written in a pad or
// the house rules into one that works inside the ZIP, from a page in the
// folder dir ("" or "pads/"): a path on the box becomes the relative
// path of what the export holds there, and ok is false for a path on
// the box the export does not hold (a hidden file, the staff pages).
// Addresses of other sites are kept: they are links, never loaded.
func (e *exporter) link(dir string) func(dest *url.URL) (string, bool) {
	return func(dest *url.URL) (string, bool) {
		if dest.Scheme != "" || dest.Host != "" {
			return dest.String(), true
		}
		z, ok := e.byBoxPath[dest.Path]
		if !ok {
			z, ok = e.byBoxPath[strings.TrimSuffix(dest.Path, "/")]
		}
		if !ok {
			return "", false
		}
		target, frag, _ := strings.Cut(z, "#")
		if frag == "" {
			frag = dest.Fragment
		}
		out := string(relURL(dir, target))
		if frag != "" {
			out += "#" + url.PathEscape(frag)
		}
		return out, true
	}
}

// newExportMarkdown is the pads' Markdown (raw HTML left out, images
// from outside turned into links) with one more step: links and images
// are rewritten by link, addresses read relative to base, the page's
// address on the box. With shift, headings move down by that many levels
// (the house rules sit under a level-2 heading).
func newExportMarkdown(base string, link func(*url.URL) (string, bool), shift ...int) goldmark.Markdown {
	transformers := []util.PrioritizedValue{util.Prioritized(outsideImages{}, 100), util.Prioritized(exportLinks{base: base, link: link}, 200)}
	if len(shift) > 0 {
		transformers = append(transformers, util.Prioritized(headingsBelow{shift[0]}, 300))
	}
	return goldmark.New(goldmark.WithParserOptions(parser.WithASTTransformers(transformers...)))
}

// exportLinks rewrites the links and images of a document for the
// export (see exporter.link). A link the export cannot follow is
// replaced by its text; an image by its description.
type exportLinks struct {
	base string
	link func(*url.URL) (string, bool)
}

func (x exportLinks) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	base := &url.URL{Path: x.base}
	var drop []ast.Node
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest *[]byte
		switch n := n.(type) {
		case *ast.Link:
			dest = &n.Destination
		case *ast.Image:
			dest = &n.Destination
		default:
			return ast.WalkContinue, nil
		}
		raw := strings.TrimSpace(string(*dest))
		if strings.HasPrefix(raw, "#") {
			return ast.WalkContinue, nil // a heading of the same page
		}
		u, err := url.Parse(raw)
		if err != nil {
			drop = append(drop, n)
			return ast.WalkContinue, nil
		}
		out, ok := x.link(base.ResolveReference(u))
		if !ok {
			drop = append(drop, n)
			return ast.WalkContinue, nil
		}
		*dest = []byte(out)
		return ast.WalkContinue, nil
	})
	for _, n := range drop {
		parent := n.Parent()
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	}
}

// relURL is the relative address of the ZIP entry target from a page in
// the folder dir ("" for the top, or "pads/"), each segment escaped.
func relURL(dir, target string) template.URL {
	up := strings.Count(dir, "/")
	segs := strings.Split(target, "/")
	// A common first folder needs no way up and down.
	if up == 1 && len(segs) > 1 && segs[0]+"/" == dir {
		segs, up = segs[1:], 0
	}
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	out := strings.Repeat("../", up) + strings.Join(segs, "/")
	if up == 0 {
		// "./" keeps a name with a colon from reading as a scheme.
		out = "./" + out
	}
	// html/template would otherwise escape it again.
	return template.URL(out)
}

// ctxReader stops a long copy when its context ends (a download
// abandoned, the box stopping).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// zipSite writes the ZIP's entries under names that are safe wherever it
// is unpacked, and unique.
type zipSite struct {
	zw       *zip.Writer
	taken    map[string]bool // folded names of entries and folders
	modified time.Time
}

// write adds a small text entry, compressed.
func (z *zipSite) write(name string, data []byte) error {
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: z.modified})
	if err != nil {
		return fmt.Errorf("export: add %s: %w", name, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("export: write %s: %w", name, err)
	}
	return nil
}

// create adds an entry named by segs, made safe and unique, and returns
// its writer and its name.
func (z *zipSite) create(segs []string, method uint16, mod time.Time) (io.Writer, string, error) {
	last := len(segs) - 1
	// The extension apart, so that shortening a long name keeps it.
	base, ext := splitExtension(segs[last])
	segs = append(segs[:last:last], base)
	name := z.reserve(segs, ext)
	if mod.IsZero() {
		mod = z.modified
	}
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: mod})
	if err != nil {
		return nil, "", fmt.Errorf("export: add %s: %w", name, err)
	}
	return w, name, nil
}

// reserve returns a free, safe name for an entry in the folders segs[:n-1]
// with base name segs[n-1] and extension ext (such as ".html"), and takes
// it. Names are compared ignoring case, as Windows and macOS do; a taken
// name gets a number: "notes (2).html".
func (z *zipSite) reserve(segs []string, ext string) string {
	clean := make([]string, len(segs))
	for i, s := range segs {
		clean[i] = safeSegment(s)
	}
	dir := strings.Join(clean[:len(clean)-1], "/")
	if dir != "" {
		dir += "/"
	}
	base := clean[len(clean)-1]
	if rest, ok := strings.CutPrefix(ext, "."); ok && rest != "" {
		ext = "." + safeSegment(rest)
	} else {
		ext = ""
	}
	for n := 1; ; n++ {
		name := dir + base + ext
		if n > 1 {
			name = fmt.Sprintf("%s%s (%d)%s", dir, base, n, ext)
		}
		key := foldName(name)
		if !z.taken[key] {
			z.taken[key] = true
			// A file may not take a folder's name, nor the reverse.
			for d := path.Dir(name); d != "."; d = path.Dir(d) {
				z.taken[foldName(d)] = true
			}
			return name
		}
	}
}

func foldName(s string) string { return strings.ToLower(norm.NFC.String(s)) }

// splitExtension splits "photo.jpeg" into "photo" and ".jpeg"; a name that
// starts with its only dot has no extension.
func splitExtension(name string) (string, string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	return name[:i], name[i:]
}

// maxSegment bounds one part of a name in the ZIP, in bytes: file
// systems allow 255.
const maxSegment = 200

// safeSegment makes one part of a name safe to unpack on any system: no
// separator, no control character, none of the characters Windows
// refuses, no "." or "..", no leading or trailing space or dot, not a
// name Windows reserves, NFC, at most maxSegment bytes.
func safeSegment(s string) string {
	// Invalid bytes first: normalising around them would not be stable.
	s = norm.NFC.String(strings.ToValidUTF8(s, "_"))
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20, r == 0x7f, unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r):
			return '_'
		case strings.ContainsRune(`/\:*?"<>|`, r):
			return '_'
		}
		return r
	}, s)
	s = strings.Trim(s, " .")
	if s == "" {
		return "_"
	}
	if stem, _, _ := strings.Cut(s, "."); windowsReserved[strings.ToUpper(strings.TrimSpace(stem))] {
		s = "_" + s
	}
	if len(s) > maxSegment {
		cut := maxSegment
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimRight(s[:cut], " .")
	}
	return s
}

// windowsReserved are the device names Windows will not use for a file,
// whatever the extension.
var windowsReserved = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true}

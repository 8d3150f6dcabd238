// Package web serves the box's own pages: the welcome page with its
// nickname form, the home page listing the box's spaces, the "what this
// box offers" page, health and metrics, in French and English.
//
// Pages work without JavaScript and load nothing from outside the box.
// Templates and static files are embedded and parsed at start-up, so a
// broken template stops the daemon at once rather than a visitor later.
//
// Only cmd/tiersbox imports this package. It never imports sync/...; what
// it needs from other parts of the box it declares as small interfaces.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/metrics"
	"tiersbox/box/moderation"
	"tiersbox/box/pad"
	"tiersbox/box/privacy"
	"tiersbox/box/staff"
	"tiersbox/box/store"
	"tiersbox/box/visitor"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Server.
type Options struct {
	// Store holds the settings. Required.
	Store *store.Store
	// Visitors records who entered. Required.
	Visitors *visitor.Service
	// MAC returns a client's MAC address, or "" if unknown. nil means
	// always unknown.
	MAC func(netip.Addr) string
	// Addresses are what a visitor can type to reach the box, preferred
	// first (for example "tiers.box" and "10.42.0.1"). Shown on every
	// page in case the sign-in window closes. Required.
	Addresses []string
	// WiFi is the network visitors join, for the staff's printable
	// poster (/admin/poster). The zero value shows no WiFi there, only
	// the portal's address.
	WiFi WiFi
	// WiFiRequestDir is the data folder, where the settings page writes
	// the WiFi staff choose for the access point to apply
	// (firmware.WriteWiFiRequest). "" means the WiFi cannot be changed
	// from the settings page.
	WiFiRequestDir string
	// DiskFree returns the bytes left on the disk of the box's data, for
	// the staff's dashboard; ok is false when unknown. nil shows none.
	DiskFree func() (free int64, ok bool)
	// Metrics receives the server's counters. nil means a private registry
	// (metrics are then still served, but nobody else adds to them).
	Metrics *metrics.Registry
	// Pads holds the pads. nil means no pads (the pad pages then answer
	// 404).
	Pads *pad.Service
	// Chat holds the channels. nil means no chat.
	Chat *chat.Service
	// Drive holds the shared documents. nil means no drive.
	Drive *drive.Service
	// Privacy gives visitors their data and erases it. nil means the
	// privacy page only says what the box keeps.
	Privacy *privacy.Service
	// Staff logs staff in for the /admin pages. nil means a service over
	// Store with default options.
	Staff *staff.Service
	// Peers is box-to-box sync as the staff's /admin/peers page and the
	// pairing endpoint POST /pair see it. nil means neither is served.
	Peers PeersView
	// Backup downloads and restores the box's archive on the staff's
	// /admin/backup page. nil means the page is not served.
	Backup BackupView
	// Moderation is the staff's moderation log (/admin/moderation). nil
	// means the page is not served.
	Moderation *moderation.Log
	// Version is shown in the footer.
	Version string
	Logger  *slog.Logger
}

// Server renders the pages. It is safe for concurrent use.
type Server struct {
	opts     Options
	logger   *slog.Logger
	pages    map[string]map[string]*lazyPage // lang → page → template
	static   map[string]staticFile           // hashed URL path → file
	staticOf map[string]string               // name → hashed URL path
	mux      *http.ServeMux

	requests *metrics.CounterVec
	entered  *metrics.Counter

	padHub  padHub
	chatHub chatHub

	pairLimit pairLimiter // POST /pair (peers.go)

	started  time.Time // for the dashboard's uptime (dashboard.go)
	presence presence  // visitors connected now and today (dashboard.go)
	wifi     wifiState // the WiFi as staff last set it (admin_settings.go)
}

// staticFile is an embedded file, read from the binary at each request
// rather than copied into memory: the editor alone is 600 KB.
type staticFile struct {
	path        string // in staticFS
	size        int64
	contentType string
}

var pageNames = []string{"welcome", "home", "about", "error", "pads", "pad", "history", "version"}

// New parses every template and indexes the static files.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Visitors == nil || len(opts.Addresses) == 0 {
		return nil, errors.New("web: Store, Visitors and Addresses are required")
	}
	if opts.MAC == nil {
		opts.MAC = func(netip.Addr) string { return "" }
	}
	if opts.Metrics == nil {
		opts.Metrics = new(metrics.Registry)
	}
	if opts.Staff == nil {
		opts.Staff = staff.New(opts.Store, staff.Options{Logger: opts.Logger})
	}
	s := &Server{opts: opts, logger: opts.Logger, padHub: padHub{rooms: make(map[string]*room)}, chatHub: chatHub{channels: make(map[string]*chatRoom)}}
	if opts.Pads != nil {
		opts.Pads.OnFlags(s.padHub.flagsChanged)
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if err := s.loadStatic(); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.requests = opts.Metrics.NewCounterVec("tiersbox_http_requests_total", "HTTP requests answered, by status code.", "code")
	s.entered = opts.Metrics.NewCounter("tiersbox_visitors_entered_total", "Times a visitor pressed Enter with a valid nickname.")
	opts.Metrics.NewGaugeFunc("tiersbox_visitors_current", "Visitors with a current session.", func() float64 {
		n, _ := opts.Visitors.Count()
		return float64(n)
	})
	if err := s.initSettings(); err != nil {
		return nil, err
	}
	s.mux = s.routes()
	return s, nil
}

func (s *Server) loadStatic() error {
	s.static = make(map[string]staticFile)
	s.staticOf = make(map[string]string)
	return fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := staticFS.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		size, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		sum := h.Sum(nil)
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		// The content hash in the URL lets browsers cache forever: a new
		// version is a new URL.
		hashed := "/static/" + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		ct := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}[ext]
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.static[hashed] = staticFile{path: p, size: size, contentType: ct}
		s.staticOf[name] = hashed
		return nil
	})
}

// parseTemplates checks at start that every page parses, then keeps none:
// a page is parsed for a language the first time it is shown in it. The
// 21 pages in two languages held 1.7 MB, for as long as the box ran,
// whether or not anyone opened them (a box offering only French never
// shows the English ones).
func (s *Server) parseTemplates() error {
	s.pages = make(map[string]map[string]*lazyPage)
	for lang := range catalog {
		s.pages[lang] = make(map[string]*lazyPage)
		for _, name := range pageNames {
			s.pages[lang][name] = &lazyPage{}
		}
	}
	for _, name := range pageNames {
		if _, err := s.parsePage("fr", name); err != nil {
			return err
		}
	}
	return nil
}

// lazyPage is a page's template in one language, parsed on first use.
type lazyPage struct {
	once sync.Once
	t    *template.Template
	err  error
}

// page returns the template of a page in a language, parsing it the first
// time.
func (s *Server) page(lang, name string) (*template.Template, error) {
	lp, ok := s.pages[lang][name]
	if !ok {
		return nil, fmt.Errorf("web: no page %q in %q", name, lang)
	}
	lp.once.Do(func() { lp.t, lp.err = s.parsePage(lang, name) })
	return lp.t, lp.err
}

// parsePage parses the layout and one page, with the translations of lang.
func (s *Server) parsePage(lang, name string) (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"t":      func(key string, args ...any) string { return translate(lang, key, args...) },
		"static": s.staticURL,
	}).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
	if err != nil {
		return nil, fmt.Errorf("web: parse %s: %w", name, err)
	}
	return t, nil
}

// staticURL returns the hashed URL of an embedded static file. An unknown
// name fails template execution, which tests catch.
func (s *Server) staticURL(name string) (string, error) {
	u, ok := s.staticOf[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return u, nil
}

// Pages returns the handler of the box's own pages, for the captive portal
// to call for requests addressed to the box.
func (s *Server) Pages() http.Handler { return s.withLang(s.mux) }

// Wrap returns h with what every reply of the box needs, whatever answers
// it (the captive portal in front of Pages included): security headers,
// metrics, logs and a friendly page instead of a crash.
func (s *Server) Wrap(h http.Handler) http.Handler {
	return s.observe(securityHeaders(h))
}

// formatDuration writes the visitor session length for the welcome page.
func formatDuration(d time.Duration, lang string) string {
	h := int(d.Round(time.Hour) / time.Hour)
	switch {
	case h >= 48 && h%24 == 0:
		return translate(lang, "format.days", h/24)
	case h >= 1:
		return translate(lang, "format.hours", h)
	}
	return translate(lang, "format.minutes", int(d.Round(time.Minute)/time.Minute))
}

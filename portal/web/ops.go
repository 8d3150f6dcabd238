package web

import (
	"io"
	"net/http"
	"strconv"
)

// healthz answers 200 "ok" when the database answers, for systemd, staff
// and tests.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := s.opts.Store.SchemaVersion(); err != nil {
		s.logger.Error("health check", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("database unavailable\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

// metricsServe writes the counters in Prometheus' text format. They are
// counts only, nothing about any visitor.
func (s *Server) metricsServe(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	s.opts.Metrics.WriteTo(w)
}

func (s *Server) staticServe(w http.ResponseWriter, r *http.Request) {
	f, ok := s.static[r.URL.Path]
	if !ok {
		s.notFound(w, r)
		return
	}
	file, err := staticFS.Open(f.path)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	defer file.Close()
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Length", strconv.FormatInt(f.size, 10))
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	io.Copy(w, file)
}

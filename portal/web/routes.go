package web

import "net/http"

// routes declares every page of the box in one place.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	forms := http.NewCrossOriginProtection()
	forms.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusForbidden, "error.forbidden")
	}))

	mux.HandleFunc("GET /{$}", s.homeShow)
	mux.HandleFunc("GET /welcome", s.welcomeShow)
	mux.Handle("POST /enter", forms.Handler(http.HandlerFunc(s.enter)))
	mux.Handle("/enter", s.onlyMethods("POST"))
	mux.HandleFunc("GET /about", s.aboutShow)
	mux.HandleFunc("GET /lang", s.langSet)
	mux.HandleFunc("GET /static/", s.staticServe)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /metrics", s.metricsServe)
	if s.opts.Pads != nil {
		mux.HandleFunc("GET /pads", s.padsShow)
		mux.Handle("POST /pads", forms.Handler(http.HandlerFunc(s.padCreate)))
		mux.Handle("POST /pads/import", forms.Handler(http.HandlerFunc(s.padImport)))
		mux.HandleFunc("GET /pads/{name}", s.padShow)
		mux.HandleFunc("GET /pads/{name}/history", s.padHistory)
		mux.HandleFunc("GET /pads/{name}/history/{version}", s.padVersion)
		mux.Handle("POST /pads/{name}/restore", forms.Handler(http.HandlerFunc(s.padRestore)))
		mux.HandleFunc("GET /ws/pads/{name}", s.padWS)
	}
	s.adminRoutes(mux, forms)
	s.chatRoutes(mux, forms)
	s.driveRoutes(mux, forms)
	s.peersRoutes(mux, forms)
	s.posterRoutes(mux)
	s.exportRoutes(mux)
	s.settingsRoutes(mux, forms)
	s.privacyRoutes(mux, forms)
	s.backupRoutes(mux, forms)
	s.moderationRoutes(mux, forms)
	// Everything else gets the friendly page, not the mux's plain text.
	mux.HandleFunc("/", s.notFound)
	return mux
}

// onlyMethods answers a friendly 405 for a path that exists for other
// methods (the catch-all above would otherwise say 404).
func (s *Server) onlyMethods(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.renderError(w, r, http.StatusMethodNotAllowed, "error.method")
	})
}

package web

import "net/http"

// adminRoutes declares the staff pages under /admin.
func (s *Server) adminRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
}

package web

import "net/http"

// chatRoutes declares the chat pages and websocket.
func (s *Server) chatRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
}

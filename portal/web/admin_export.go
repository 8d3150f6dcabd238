package web

import (
	"context"
	"io"
	"net/http"
	"time"

	"tiersbox/box/drive"
	"tiersbox/box/settings"
)

// The staff page /admin/export: what the documentation export holds, and
// a button that downloads it (export.go builds the ZIP).

func init() { pageNames = append(pageNames, "admin_export") }

// exportRoutes declares the export page and its download.
func (s *Server) exportRoutes(mux *http.ServeMux) {
	mux.Handle("GET /admin/export", s.requireStaff(http.HandlerFunc(s.exportShow)))
	mux.Handle("GET /admin/export/download", s.requireStaff(http.HandlerFunc(s.exportDownload)))
}

// exportView is what the export page shows.
type exportView struct {
	HasPads, HasChat, HasDrive bool
	Pads, Channels, Files      int
	Size                       string
	Licence                    string
	FileName                   string
}

// exportShow explains the export with the counts of what it will hold.
func (s *Server) exportShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, nil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := &exportView{HasPads: s.opts.Pads != nil, HasChat: s.opts.Chat != nil, HasDrive: s.opts.Drive != nil,
		FileName: ExportFileName(p.Settings.Venue, time.Now())}
	lic := p.Settings.Licence
	if lic == "" {
		lic = settings.DefaultLicence
	}
	v.Licence = licenceLabel(p.Lang, lic)
	if v.HasPads {
		list, err := s.opts.Pads.List()
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		v.Pads = len(list)
	}
	if v.HasChat {
		// Pads' side channels are counted in the export, not here: this
		// is the order of magnitude staff need.
		chans, err := s.opts.Chat.Channels(true)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		v.Channels = len(chans)
	}
	if v.HasDrive {
		files, err := s.opts.Drive.ListAll(drive.ListOptions{})
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		var size int64
		for _, f := range files {
			size += f.Size
		}
		v.Files, v.Size = len(files), formatSize(size, p.Lang)
	}
	p.Admin = &adminPage{Export: v}
	s.render(w, r, http.StatusOK, "admin_export", p)
}

// exportDownload streams the ZIP as it is made: nothing is held in
// memory or written to the box's disk, however large the drive. An error
// once the download has begun cuts the connection, so that the browser
// reports a failed download rather than keeping half a ZIP.
func (s *Server) exportDownload(w http.ResponseWriter, r *http.Request) {
	st, err := settings.Load(s.opts.Store)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	now := time.Now()
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", `attachment; filename="`+ExportFileName(st.Venue, now)+`"`)
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	err = WriteExport(r.Context(), w, s.exportSources(now))
	if err == nil {
		return
	}
	if r.Context().Err() != nil {
		s.logger.Info("an export download was abandoned", "error", err)
	} else {
		s.logger.Error("exporting the documentation", "error", err)
	}
	panic(http.ErrAbortHandler)
}

// WriteExport writes the ZIP of this server's documentation to w, as
// /admin/export/download serves it: for the command line's `tiersbox
// export` while the box runs.
func (s *Server) WriteExport(ctx context.Context, w io.Writer) error {
	return WriteExport(ctx, w, s.exportSources(time.Now()))
}

// exportSources are this server's parts, for WriteExport.
func (s *Server) exportSources(now time.Time) ExportSources {
	return ExportSources{Store: s.opts.Store, Pads: s.opts.Pads, Chat: s.opts.Chat, Drive: s.opts.Drive,
		Now: now, Version: s.opts.Version, Logger: s.logger}
}

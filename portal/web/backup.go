package web

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"tiersbox/box/backup"
)

// The staff page for backups, /admin/backup: download one archive of the
// box (database and drive, box/backup), and restore an archive on a new
// box. A restore is read and verified whole while the box runs, staged,
// and applied when the box starts again, which it does at once
// (BackupView.Restart): nothing is replaced by an archive that turns out
// to be cut short or damaged. On a box that already holds pads, messages
// or files, staff must tick that the restore replaces everything.

func init() { pageNames = append(pageNames, "admin_backup") }

// BackupView is what the backup page needs. cmd implements it over
// box/backup, and restarts the daemon. Its methods must be safe for
// concurrent use.
type BackupView interface {
	// Write writes an archive of the box to w.
	Write(w io.Writer) error
	// HasContent reports whether the box holds anything a restore would
	// replace.
	HasContent() (bool, error)
	// Stage reads and verifies an archive and keeps it for the next
	// start, with whether the box is to take the archive's identity. An
	// error wrapping backup.ErrArchive or backup.ErrBadDatabase is the
	// archive's fault.
	Stage(r io.Reader, takeIdentity bool) (*backup.Manifest, error)
	// Restart stops the box cleanly and starts it again, which applies
	// the staged restore.
	Restart()
}

// backupPage is the backup page's content.
type backupPage struct {
	HasContent bool
	Error      string // why the restore was refused
	Detail     string // the archive's fault, as the program words it
	Staged     *stagedView
}

// stagedView is a restore about to be applied.
type stagedView struct {
	Device  string
	Created string
	Files   int
	Bytes   int64
	Size    string // Bytes as people read it
	Take    bool
}

func (s *Server) backupRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
	if s.opts.Backup == nil {
		return
	}
	mux.Handle("GET /admin/backup", s.requireStaff(http.HandlerFunc(s.backupShow)))
	mux.Handle("GET /admin/backup/download", s.requireStaff(http.HandlerFunc(s.backupDownload)))
	mux.Handle("POST /admin/backup/restore", forms.Handler(s.requireStaff(http.HandlerFunc(s.backupRestore))))
	mux.Handle("/admin/backup/restore", s.onlyMethods("POST"))
}

func (s *Server) backupShow(w http.ResponseWriter, r *http.Request) {
	s.renderBackup(w, r, http.StatusOK, &backupPage{})
}

func (s *Server) renderBackup(w http.ResponseWriter, r *http.Request, status int, bp *backupPage) {
	p, err := s.newPage(r, nil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if bp.HasContent, err = s.opts.Backup.HasContent(); err != nil {
		s.serverError(w, r, err)
		return
	}
	if bp.Error != "" {
		bp.Error = translate(p.Lang, bp.Error)
	}
	if bp.Staged != nil {
		bp.Staged.Size = formatSize(bp.Staged.Bytes, p.Lang)
	}
	p.Admin = &adminPage{Backup: bp}
	s.render(w, r, status, "admin_backup", p)
}

// backupDownload streams the archive. Once the first byte is sent an
// error can only cut the connection: the browser then reports a failed
// download, and the part it kept has no manifest, so no restore takes it.
func (s *Server) backupDownload(w http.ResponseWriter, r *http.Request) {
	name := "tiersbox-backup-" + time.Now().Format("2006-01-02-1504") + ".tar"
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := s.opts.Backup.Write(w); err != nil {
		s.logger.Error("backup download", "error", err)
		panic(http.ErrAbortHandler)
	}
	s.logger.Info("backup downloaded by staff")
}

// backupRestore reads the form as it comes: the boxes to tick come before
// the file in the form, so the file is streamed to Stage, never held in
// memory nor in a temporary file of the HTTP server.
func (s *Server) backupRestore(w http.ResponseWriter, r *http.Request) {
	// A large archive over WiFi takes more than the server's read
	// timeout: the deadline moves on while bytes come (drive.go).
	r.Body = idleDeadline{r.Body, http.NewResponseController(w)}
	mr, err := r.MultipartReader()
	if err != nil {
		s.renderBackup(w, r, http.StatusBadRequest, &backupPage{Error: "backup.error.nofile"})
		return
	}
	hasContent, err := s.opts.Backup.HasContent()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var take, replace bool
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			s.renderBackup(w, r, http.StatusBadRequest, &backupPage{Error: "backup.error.nofile"})
			return
		}
		if err != nil {
			s.renderBackup(w, r, http.StatusBadRequest, &backupPage{Error: "backup.error.upload"})
			return
		}
		switch part.FormName() {
		case "take_identity":
			take = formTrue(part)
		case "replace":
			replace = formTrue(part)
		case "archive":
			if part.FileName() == "" {
				s.renderBackup(w, r, http.StatusBadRequest, &backupPage{Error: "backup.error.nofile"})
				return
			}
			if hasContent && !replace {
				s.renderBackup(w, r, http.StatusConflict, &backupPage{Error: "backup.error.replace"})
				return
			}
			s.stageRestore(w, r, part, take)
			return
		}
		part.Close()
	}
}

func (s *Server) stageRestore(w http.ResponseWriter, r *http.Request, archive io.Reader, take bool) {
	m, err := s.opts.Backup.Stage(archive, take)
	switch {
	case errors.Is(err, backup.ErrArchive) || errors.Is(err, backup.ErrBadDatabase):
		s.logger.Warn("restore refused", "error", err)
		s.renderBackup(w, r, http.StatusUnprocessableEntity, &backupPage{Error: "backup.error.archive", Detail: err.Error()})
		return
	case err != nil && r.Context().Err() != nil:
		s.logger.Warn("restore upload cut short", "error", err)
		return // the browser left: nobody to answer
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	n, size := m.DriveFiles()
	s.logger.Info("restore staged; the box restarts to apply it", "device_id", m.DeviceID, "take_identity", take, "files", n)
	s.renderBackup(w, r, http.StatusOK, &backupPage{Staged: &stagedView{
		Device: m.DeviceID, Created: m.Created.Local().Format("2006-01-02 15:04"), Files: n, Bytes: size, Take: take,
	}})
	// The page is sent; a clean stop lets it reach the browser.
	s.opts.Backup.Restart()
}

// formTrue reads a small form field: a checkbox sends "yes".
func formTrue(part *multipart.Part) bool {
	b, _ := io.ReadAll(io.LimitReader(part, 16))
	return string(b) == "yes"
}

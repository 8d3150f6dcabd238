package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"tiersbox/box/drive"
	"tiersbox/box/settings"
)

func init() { pageNames = append(pageNames, "drive") }

// driveRoutes declares the drive's pages: the listing, uploads, the files
// themselves and the staff's actions.
func (s *Server) driveRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
	if s.opts.Drive == nil {
		return
	}
	mux.HandleFunc("GET /drive", s.driveList)
	mux.Handle("POST /drive", forms.Handler(http.HandlerFunc(s.driveUpload)))
	mux.HandleFunc("GET /drive/{path...}", s.driveFile)
	mux.Handle("POST /drive-actions/remove", forms.Handler(http.HandlerFunc(s.driveRemove)))
	staff := func(h http.HandlerFunc) http.Handler { return s.requireStaff(forms.Handler(h)) }
	mux.Handle("POST /drive-actions/hide", staff(s.driveHide))
	mux.Handle("POST /drive-actions/show", staff(s.driveShow))
	mux.Handle("POST /drive-actions/licence", staff(s.driveLicence))
}

// licences are the choices offered at upload: open licences that let the
// venue's documentation be a commons, and the plain reservation of rights
// for what a visitor does not want to share further.
var licences = []string{"CC BY-SA 4.0", "CC BY 4.0", "CC0 1.0", "Licence Ouverte 2.0", "all-rights-reserved"}

// licenceLabel names a licence in the page's language.
func licenceLabel(lang, l string) string {
	if l == "all-rights-reserved" {
		return translate(lang, "drive.licence.reserved")
	}
	return l
}

// driveView is what the drive template shows.
type driveView struct {
	Folder   string
	Parent   string // the folder above, or "" at the top
	AtTop    bool
	Folders  []string
	Files    []driveFile
	Licences []licenceChoice
	Staff    bool
	Max      string // the largest file, as shown
	Usage    string
	Quota    string
	Uploaded []string // names just added (after a no-JS upload)
}

type licenceChoice struct {
	Value, Label string
	Selected     bool
}

type driveFile struct {
	drive.File
	URL, When, SizeText, Kind, Licence string
	Mine                               bool
}

// fileURL is the address of a file's content: /drive/ and its path, each
// segment escaped.
func fileURL(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/drive/" + strings.Join(segs, "/")
}

// kindOf sorts files by how a page can show them.
func kindOf(contentType string) string {
	t, _, _ := mime.ParseMediaType(contentType)
	switch {
	case inlineImage(t):
		return "image"
	case strings.HasPrefix(t, "audio/"):
		return "audio"
	case strings.HasPrefix(t, "video/"):
		return "video"
	case t == "application/pdf":
		return "pdf"
	}
	return "other"
}

func inlineImage(t string) bool {
	return slices.Contains([]string{"image/png", "image/jpeg", "image/gif", "image/webp"}, t)
}

// formatSize shows a size the way a person reads it.
func formatSize(n int64, lang string) string {
	units := strings.Fields(translate(lang, "format.size.units"))
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d %s", n, units[0])
	}
	return strings.Replace(fmt.Sprintf("%.1f %s", f, units[i]), ".", translate(lang, "format.decimal"), 1)
}

func (s *Server) driveList(w http.ResponseWriter, r *http.Request) {
	s.drivePage(w, r, http.StatusOK, "", r.URL.Query()["added"])
}

// drivePage shows a folder of the drive, with an error after a refused
// upload, or the names just added.
func (s *Server) drivePage(w http.ResponseWriter, r *http.Request, status int, errMsg string, uploaded []string) {
	v := s.currentVisitor(r)
	p, err := s.newPage(r, v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	folder := r.URL.Query().Get("folder")
	if r.Method == http.MethodPost {
		folder = r.FormValue("folder")
	}
	if folder != "" {
		if folder, err = drive.CleanFolder(folder); err != nil {
			s.renderError(w, r, http.StatusBadRequest, "drive.error.name")
			return
		}
	}
	staff := s.isStaff(r)
	files, err := s.opts.Drive.ListIn(folder, drive.ListOptions{Hidden: staff})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	all, err := s.opts.Drive.Folders()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	me := ""
	if v != nil {
		me = v.Pseudonym()
	}
	view := &driveView{Folder: folder, AtTop: folder == "", Staff: staff, Uploaded: uploaded}
	if i := strings.LastIndex(folder, "/"); i >= 0 {
		view.Parent = folder[:i]
	}
	// The folders directly inside this one.
	for _, f := range all {
		rest, ok := strings.CutPrefix(f, folder+"/")
		if folder == "" {
			rest, ok = f, true
		}
		if ok && rest != "" && !strings.Contains(rest, "/") {
			view.Folders = append(view.Folders, f)
		}
	}
	for _, f := range files {
		view.Files = append(view.Files, driveFile{
			File: f, URL: fileURL(f.Path), When: formatWhen(f.Time, p.Lang), SizeText: formatSize(f.Size, p.Lang),
			Kind: kindOf(f.ContentType), Licence: licenceLabel(p.Lang, f.Licence), Mine: me != "" && f.Author == me,
		})
	}
	def := p.Settings.Licence
	if def == "" {
		def = settings.DefaultLicence
	}
	for _, l := range licences {
		view.Licences = append(view.Licences, licenceChoice{Value: l, Label: licenceLabel(p.Lang, l), Selected: l == def})
	}
	if max := s.opts.Drive.MaxFileSize(); max > 0 {
		view.Max = formatSize(max, p.Lang)
	}
	if used, err := s.opts.Drive.Usage(); err == nil {
		view.Usage = formatSize(used, p.Lang)
	}
	if q := s.opts.Drive.Quota(); q > 0 {
		view.Quota = formatSize(q, p.Lang)
	}
	p.Drive = view
	p.Error = errMsg
	s.render(w, r, status, "drive", p)
}

// driveErrors maps the drive's errors to a status and a message key.
var driveErrors = errorKeys{
	{drive.ErrTooLarge, http.StatusRequestEntityTooLarge, "drive.error.toolarge"},
	{drive.ErrQuota, http.StatusRequestEntityTooLarge, "drive.error.quota"},
	{drive.ErrBadName, http.StatusBadRequest, "drive.error.name"},
	{drive.ErrInvalid, http.StatusBadRequest, "drive.error.invalid"},
	{drive.ErrNotFound, http.StatusNotFound, "drive.error.notfound"},
	{drive.ErrMissing, http.StatusNotFound, "drive.error.missing"},
	{drive.ErrNotYours, http.StatusForbidden, "drive.error.notyours"},
	{errNoFile, http.StatusBadRequest, "drive.error.nofile"},
	{errNotEntered, http.StatusForbidden, "drive.error.enter"},
}

var (
	errNoFile     = errors.New("web: no file in the upload")
	errNotEntered = errors.New("web: the visitor has not entered")
)

func driveError(err error) (int, string) { return driveErrors.lookup(err) }

// driveUpload streams a multipart upload (field "file", once or more;
// optional "folder", "description", "licence" before the files, as the
// form orders them) to the drive, one file at a time, never holding a
// file in memory.
func (s *Server) driveUpload(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r)
	r.Body = idleDeadline{r.Body, http.NewResponseController(w)}
	added, err := s.receiveUpload(r)
	if err != nil {
		status, key := driveError(err)
		switch {
		case status != http.StatusInternalServerError:
		case interrupted(r, err):
			// The visitor closed the page or left the WiFi: nothing went
			// wrong at the box, and the drive kept nothing of the file.
			status, key = http.StatusBadRequest, "drive.error.network"
			s.logger.Info("an upload was interrupted", "error", err)
		default:
			s.logger.Error("receiving an upload", "error", err)
		}
		// Say so at once: what is left of the body is not read.
		w.Header().Set("Connection", "close")
		if wantsJSON(r) {
			writeJSON(w, status, map[string]any{"error": translate(lang, key), "added": added})
			return
		}
		s.drivePage(w, r, status, translate(lang, key), added)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"added": added})
		return
	}
	q := url.Values{}
	if f := r.URL.Query().Get("folder"); f != "" {
		q.Set("folder", f)
	}
	for _, a := range added {
		q.Add("added", a)
	}
	target := "/drive"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// uploadIdle is how long an upload may go without a byte before the box
// gives up on it.
const uploadIdle = time.Minute

// idleDeadline renews the connection's read deadline at each read: the
// server's ReadTimeout bounds a whole request, and a large file sent over
// a venue's WiFi takes longer, so an upload lasts as long as its bytes
// keep coming.
type idleDeadline struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (d idleDeadline) Read(p []byte) (int, error) {
	d.rc.SetReadDeadline(time.Now().Add(uploadIdle))
	return d.ReadCloser.Read(p)
}

// receiveUpload reads the parts of an upload and adds each file; it
// returns the paths added, also when a later file is refused.
func (s *Server) receiveUpload(r *http.Request) ([]string, error) {
	v := s.currentVisitor(r)
	if v == nil {
		return nil, errNotEntered
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoFile, err)
	}
	st, err := settings.Load(s.opts.Store)
	if err != nil {
		return nil, err
	}
	req := drive.UploadRequest{Author: v.Pseudonym(), Nickname: v.Nickname, Licence: st.Licence}
	if req.Licence == "" {
		req.Licence = settings.DefaultLicence
	}
	var added []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return added, fmt.Errorf("%w: %v", errNoFile, err)
		}
		if part.FileName() == "" {
			// A small form field: read it whole, within reason.
			b, err := io.ReadAll(io.LimitReader(part, 4<<10))
			if err != nil {
				return added, fmt.Errorf("%w: %v", errNoFile, err)
			}
			val := string(b)
			switch part.FormName() {
			case "folder":
				req.Folder = val
			case "description":
				req.Description = val
			case "licence":
				if slices.Contains(licences, val) {
					req.Licence = val
				}
			}
			continue
		}
		if part.FormName() != "file" {
			continue
		}
		req.Name = path.Base(strings.ReplaceAll(part.FileName(), `\`, "/"))
		req.ContentType = part.Header.Get("Content-Type")
		f, err := s.opts.Drive.Upload(r.Context(), req, part)
		if err != nil {
			return added, err
		}
		added = append(added, f.Path)
	}
	if len(added) == 0 {
		return nil, errNoFile
	}
	return added, nil
}

// driveFile serves a file's exact bytes, with Range requests (audio and
// video seek with them); ?thumb gives its thumbnail.
func (s *Server) driveFile(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("path")
	if _, thumb := r.URL.Query()["thumb"]; thumb {
		s.driveThumb(w, r, p)
		return
	}
	f, info, err := s.opts.Drive.Open(p)
	if err != nil {
		status, key := driveError(err)
		if status == http.StatusInternalServerError {
			s.logger.Error("opening a drive file", "path", p, "error", err)
		}
		s.renderError(w, r, status, key)
		return
	}
	defer f.Close()
	if info.Hidden && !s.isStaff(r) {
		s.renderError(w, r, http.StatusNotFound, "drive.error.notfound")
		return
	}
	h := w.Header()
	ct := info.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	// What a visitor added must never run as a page of the box: only the
	// kinds a browser shows safely open in it (SVG and HTML can hold
	// scripts), the rest downloads; and the file is sandboxed anyway.
	t, _, _ := mime.ParseMediaType(ct)
	disposition := "attachment"
	if kindOf(ct) != "other" || t == "text/plain" {
		disposition = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": info.Name}))
	if disposition == "attachment" || t == "text/plain" {
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	}
	http.ServeContent(w, r, info.Name, info.Time, f)
}

func (s *Server) driveThumb(w http.ResponseWriter, r *http.Request, p string) {
	info, err := s.opts.Drive.Stat(p)
	if err == nil && info.Hidden && !s.isStaff(r) {
		err = drive.ErrNotFound
	}
	var file string
	if err == nil {
		file, err = s.opts.Drive.Thumbnail(p)
	}
	if errors.Is(err, drive.ErrNoThumbnail) {
		s.renderError(w, r, http.StatusNotFound, "drive.error.nothumb")
		return
	}
	if err != nil {
		status, key := driveError(err)
		s.renderError(w, r, status, key)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	// A thumbnail is named by its image's hash: it never changes.
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFile(w, r, file)
}

// driveBack returns to the folder a form was sent from.
func driveBack(r *http.Request) string {
	if f := r.PostFormValue("folder"); f != "" {
		return "/drive?folder=" + url.QueryEscape(f)
	}
	return "/drive"
}

// driveRemove removes a file: staff any, a visitor their own.
func (s *Server) driveRemove(w http.ResponseWriter, r *http.Request) {
	p := r.PostFormValue("path")
	var err error
	if s.isStaff(r) {
		err = s.opts.Drive.Remove(p, staffAuthor)
	} else if v := s.currentVisitor(r); v != nil {
		err = s.opts.Drive.RemoveOwn(p, v.Pseudonym())
	} else {
		err = drive.ErrNotYours
	}
	s.driveDone(w, r, err)
}

func (s *Server) driveHide(w http.ResponseWriter, r *http.Request) {
	s.driveDone(w, r, s.opts.Drive.Hide(r.PostFormValue("path"), staffAuthor))
}

func (s *Server) driveShow(w http.ResponseWriter, r *http.Request) {
	s.driveDone(w, r, s.opts.Drive.Show(r.PostFormValue("path"), staffAuthor))
}

// driveLicence sets the licence uploads get unless a visitor picks another.
func (s *Server) driveLicence(w http.ResponseWriter, r *http.Request) {
	l := r.PostFormValue("licence")
	if !slices.Contains(licences, l) {
		s.renderError(w, r, http.StatusBadRequest, "drive.error.invalid")
		return
	}
	st, err := settings.Load(s.opts.Store)
	if err == nil {
		st.Licence = l
		err = settings.Save(s.opts.Store, st)
	}
	s.driveDone(w, r, err)
}

func (s *Server) driveDone(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		status, key := driveError(err)
		if status == http.StatusInternalServerError {
			s.logger.Error("a drive action", "path", r.URL.Path, "error", err)
		}
		s.renderError(w, r, status, key)
		return
	}
	http.Redirect(w, r, driveBack(r), http.StatusSeeOther)
}

// interrupted reports whether an upload failed because its sender went
// away rather than because of the box.
func interrupted(r *http.Request, err error) bool {
	var netErr net.Error
	return r.Context().Err() != nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &netErr)
}

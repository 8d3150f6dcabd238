package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"tiersbox/box/settings"
	"tiersbox/firmware"
)

// The staff's settings page, /admin/settings: the venue's name,
// description and house rules, the languages offered, the drive's default
// licence, the WiFi (own-wifi mode), how long visitor sessions and chat
// messages last. Everything is checked before anything is saved; on an
// error the form comes back with what was typed and a message beside each
// wrong field.
//
// The daemon cannot reconfigure the access point itself: a WiFi change is
// written as a request in the data folder (firmware.WriteWiFiRequest),
// which a root service applies (firmware/wifi.go).

func init() { pageNames = append(pageNames, "admin_settings") }

// Limits of the settings form.
const (
	maxSettingsForm  = 64 << 10
	maxVenueRunes    = 64
	maxDescription   = 500
	maxRules         = 5000
	minSessionHours  = 1
	maxSessionHours  = 30 * 24
	maxRetentionDays = 10 * 365
)

// languageChoices are the language settings the form offers, as stored
// in settings.Settings.Languages, the default first.
var languageChoices = []struct{ value, key string }{
	{"fr,en", "settings.lang.fr-en"},
	{"en,fr", "settings.lang.en-fr"},
	{"fr", "settings.lang.fr"},
	{"en", "settings.lang.en"},
}

// wifiState is the WiFi visitors join, as staff last set it. It starts
// as Options.WiFi and changes when staff save a new one.
type wifiState struct {
	mu sync.Mutex
	w  WiFi
}

func (ws *wifiState) get() WiFi {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.w
}

func (ws *wifiState) set(w WiFi) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.w = w
}

// initSettings applies what staff saved that lives outside the settings
// document's readers: the visitor session length.
func (s *Server) initSettings() error {
	s.started = time.Now()
	s.wifi.set(s.opts.WiFi)
	st, err := settings.Load(s.opts.Store)
	if err != nil {
		return err
	}
	if st.SessionHours > 0 {
		s.opts.Visitors.SetSessionLength(time.Duration(st.SessionHours) * time.Hour)
	}
	return nil
}

// settingsRoutes declares the settings page and its form.
func (s *Server) settingsRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
	mux.Handle("GET /admin/settings", s.requireStaff(http.HandlerFunc(s.settingsShow)))
	mux.Handle("POST /admin/settings", s.requireStaff(forms.Handler(http.HandlerFunc(s.settingsSave))))
}

// settingsForm is the form as typed, with a message for each wrong field.
type settingsForm struct {
	Venue, Description, Rules string
	Languages, Licence        string
	// WiFi, shown in own-wifi mode only.
	SSID, Passphrase string
	Security         string // "open" or "wpa2"
	Channel          string
	SessionHours     string
	RetentionDays    string
	// Errors maps a field's name to its message.
	Errors map[string]string
}

// settingsView is what the settings template shows.
type settingsView struct {
	Form settingsForm
	// Done says what the last save did.
	Done string
	// WiFi is false when the box opens no WiFi of its own, or cannot
	// change it.
	WiFi     bool
	Channels []int
	// Langs and Licences are the choices of the two lists.
	Langs    []settingsChoice
	Licences []settingsChoice
	// CurrentSSID is the network visitors join now.
	CurrentSSID string
}

type settingsChoice struct {
	Value, Label string
	Selected     bool
}

// wifiEditable reports whether staff may change the WiFi here.
func (s *Server) wifiEditable() bool {
	w := s.wifi.get()
	return w.Own && s.opts.WiFiRequestDir != ""
}

// settingsShow shows the form filled with the current settings.
func (s *Server) settingsShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, nil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	st := p.Settings
	wf := s.wifi.get()
	f := settingsForm{
		Venue: st.Venue, Description: st.Description, Rules: st.Rules,
		Languages: strings.Join(st.Offered(), ","), Licence: st.Licence,
		SSID: wf.SSID, Passphrase: wf.Passphrase, Security: "open", Channel: strconv.Itoa(wf.Channel),
		SessionHours:  strconv.Itoa(int(s.opts.Visitors.SessionLength().Round(time.Hour) / time.Hour)),
		RetentionDays: strconv.Itoa(st.ChatRetentionDays),
	}
	if f.Licence == "" {
		f.Licence = settings.DefaultLicence
	}
	if wf.Passphrase != "" {
		f.Security = "wpa2"
	}
	v := &settingsView{Form: f}
	switch r.URL.Query().Get("done") {
	case "saved":
		v.Done = translate(p.Lang, "settings.done")
	case "wifi":
		v.Done = translate(p.Lang, "settings.done.wifi", wf.SSID)
	}
	s.settingsRender(w, r, http.StatusOK, p, v)
}

// settingsRender fills the lists and renders the page.
func (s *Server) settingsRender(w http.ResponseWriter, r *http.Request, status int, p *page, v *settingsView) {
	wf := s.wifi.get()
	v.WiFi = s.wifiEditable()
	v.CurrentSSID = wf.SSID
	for c := 1; c <= firmware.MaxChannel(wf.Country); c++ {
		v.Channels = append(v.Channels, c)
	}
	for _, c := range languageChoices {
		v.Langs = append(v.Langs, settingsChoice{Value: c.value, Label: translate(p.Lang, c.key), Selected: c.value == v.Form.Languages})
	}
	for _, l := range licences {
		v.Licences = append(v.Licences, settingsChoice{Value: l, Label: licenceLabel(p.Lang, l), Selected: l == v.Form.Licence})
	}
	p.Admin = &adminPage{Settings: v}
	s.render(w, r, status, "admin_settings", p)
}

// settingsSave checks the form and saves it, or shows it again with its
// errors and nothing saved.
func (s *Server) settingsSave(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxSettingsForm, false) {
		return
	}
	p, err := s.newPage(r, nil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	get := func(name string) string { return r.PostForm.Get(name) }
	f := settingsForm{
		Venue: strings.TrimSpace(get("venue")), Description: strings.TrimSpace(get("description")),
		Rules:     strings.TrimSpace(strings.ReplaceAll(get("rules"), "\r\n", "\n")),
		Languages: get("languages"), Licence: get("licence"),
		SSID: get("ssid"), Passphrase: get("passphrase"), Security: get("security"), Channel: get("channel"),
		SessionHours: strings.TrimSpace(get("session_hours")), RetentionDays: strings.TrimSpace(get("retention_days")),
		Errors: map[string]string{},
	}
	bad := func(field, key string, args ...any) {
		if _, done := f.Errors[field]; !done {
			f.Errors[field] = translate(p.Lang, key, args...)
		}
	}

	st := p.Settings
	switch {
	case f.Venue == "":
		bad("venue", "settings.error.venue.empty")
	case utf8.RuneCountInString(f.Venue) > maxVenueRunes:
		bad("venue", "settings.error.venue.long", maxVenueRunes)
	case strings.ContainsFunc(f.Venue, unicode.IsControl):
		bad("venue", "settings.error.control")
	}
	if utf8.RuneCountInString(f.Description) > maxDescription {
		bad("description", "settings.error.toolong", maxDescription)
	} else if strings.ContainsFunc(f.Description, unicode.IsControl) {
		bad("description", "settings.error.oneline")
	}
	if utf8.RuneCountInString(f.Rules) > maxRules {
		bad("rules", "settings.error.toolong", maxRules)
	}
	if !slices.ContainsFunc(languageChoices, func(c struct{ value, key string }) bool { return c.value == f.Languages }) {
		bad("languages", "settings.error.choice")
	}
	if !slices.Contains(licences, f.Licence) {
		bad("licence", "settings.error.choice")
	}
	hours, err := strconv.Atoi(f.SessionHours)
	if err != nil || hours < minSessionHours || hours > maxSessionHours {
		bad("session_hours", "settings.error.range", minSessionHours, maxSessionHours)
	}
	days, err := strconv.Atoi(f.RetentionDays)
	if err != nil || days < 0 || days > maxRetentionDays {
		bad("retention_days", "settings.error.range", 0, maxRetentionDays)
	}

	// The WiFi, checked with the access point's own rules.
	current := s.wifi.get()
	var req firmware.WiFiRequest
	wifiChanged := false
	if s.wifiEditable() {
		req.SSID = f.SSID
		switch f.Security {
		case "open":
			f.Passphrase = "" // an open network has none
		case "wpa2":
			if f.Passphrase == "" {
				bad("passphrase", "settings.error.passphrase.empty")
			}
		default:
			bad("security", "settings.error.choice")
		}
		req.Passphrase = f.Passphrase
		if err := firmware.CheckSSID(req.SSID); err != nil {
			bad("ssid", ssidError(req.SSID))
		}
		if err := firmware.CheckPassphrase(req.Passphrase); err != nil {
			bad("passphrase", passphraseError(req.Passphrase))
		}
		req.Channel, err = strconv.Atoi(f.Channel)
		if err != nil || firmware.CheckChannel(req.Channel, current.Country) != nil {
			bad("channel", "settings.error.range", 1, firmware.MaxChannel(current.Country))
		}
		wifiChanged = req.SSID != current.SSID || req.Passphrase != current.Passphrase || req.Channel != current.Channel
	}

	if len(f.Errors) > 0 {
		if len(f.Passphrase) > 256 || len(f.SSID) > 256 {
			// Give back what was typed, unless it is absurdly long.
			f.SSID, f.Passphrase = "", ""
		}
		p.Error = translate(p.Lang, "settings.error.summary")
		s.settingsRender(w, r, http.StatusBadRequest, p, &settingsView{Form: f})
		return
	}

	// The WiFi request first: if it cannot be written, nothing is saved.
	if wifiChanged {
		if err := firmware.WriteWiFiRequest(s.opts.WiFiRequestDir, current.Country, req); err != nil {
			s.serverError(w, r, fmt.Errorf("settings: %w", err))
			return
		}
		next := current
		next.SSID, next.Passphrase, next.Channel = req.SSID, req.Passphrase, req.Channel
		s.wifi.set(next)
		s.logger.Info("staff changed the WiFi", "ssid", req.SSID, "channel", req.Channel)
	}
	st.Venue, st.Description, st.Rules = f.Venue, f.Description, f.Rules
	st.Languages, st.Licence = f.Languages, f.Licence
	st.SessionHours, st.ChatRetentionDays = hours, days
	if err := settings.Save(s.opts.Store, st); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.opts.Visitors.SetSessionLength(time.Duration(hours) * time.Hour)
	s.logger.Info("staff saved the settings")
	done := "saved"
	if wifiChanged {
		done = "wifi"
	}
	http.Redirect(w, r, "/admin/settings?done="+done, http.StatusSeeOther)
}

// ssidError is the message key for a WiFi name firmware.CheckSSID refused.
func ssidError(ssid string) string {
	switch {
	case ssid == "":
		return "settings.error.ssid.empty"
	case len(ssid) > 32:
		return "settings.error.ssid.long"
	}
	return "settings.error.ssid.chars"
}

// passphraseError is the message key for a passphrase
// firmware.CheckPassphrase refused.
func passphraseError(pass string) string {
	if len(pass) < 8 || len(pass) > 63 {
		return "settings.error.passphrase.length"
	}
	return "settings.error.passphrase.chars"
}

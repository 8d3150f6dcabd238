package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"tiersbox/box/settings"
)

// The printable poster, /admin/poster: the venue's name, a QR code that
// joins the box's WiFi (with the network's name and passphrase written
// out for those who cannot scan), a QR code and the address of the
// portal, and the house rules. It hangs on a wall, so the poster itself
// is in French then English whatever the staff's language; the page
// around it (title, how to print) follows the usual language choice and
// is left out when printing (style.css, @media print).

func init() { pageNames = append(pageNames, "admin_poster") }

// WiFi is the network visitors join, as the poster shows it. The zero
// value shows none: the poster then gives only the portal's address.
type WiFi struct {
	// SSID is the network's name. Empty shows no WiFi.
	SSID string
	// Passphrase is the WPA2 passphrase; empty means an open network.
	Passphrase string
	// Own says that the box opens this network itself (network.mode
	// "own-wifi"). When false (mode "venue": visitors come through the
	// venue's own access points, which the box does not run) the poster
	// shows no WiFi.
	Own bool
	// Country is the access point's regulatory domain (such as "FR"),
	// which bounds the channels the settings page offers.
	Country string
	// Channel is the access point's 2.4 GHz channel.
	Channel int
}

// posterLangs are the poster's languages, in the order it shows them.
var posterLangs = []string{"fr", "en"}

// posterRoutes declares the poster page.
func (s *Server) posterRoutes(mux *http.ServeMux) {
	mux.Handle("GET /admin/poster", s.requireStaff(http.HandlerFunc(s.posterShow)))
}

// posterView is what the poster template shows.
type posterView struct {
	Venue string
	// WiFi is nil when the box opens no WiFi of its own.
	WiFi *posterWiFi
	// Address is what a visitor types first; Others are the other
	// addresses that lead to the box.
	Address string
	Others  []string
	// PortalQR holds the URL of the portal at Address.
	PortalQR template.HTML
	// Rules are the staff's house rules, a paragraph a line, shown once
	// in the language they were written in; nil when staff wrote none,
	// and each language then shows its default rules.
	Rules []string
	// Langs are the poster's texts in each of posterLangs.
	Langs []posterText
}

type posterWiFi struct {
	SSID, Passphrase string
	QR               template.HTML
}

// posterText is the poster's texts in one language.
type posterText struct {
	Lang                                         string
	Welcome, Join, Scan, Network, Password, Open string
	Portal, Browse, Or, Offline, RulesTitle      string
	DefaultRules                                 []string
}

// posterShow shows the poster.
func (s *Server) posterShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, nil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p.Admin = &adminPage{Poster: s.poster(p.Settings)}
	s.render(w, r, http.StatusOK, "admin_poster", p)
}

// poster builds the poster from the settings and the options.
func (s *Server) poster(st settings.Settings) *posterView {
	v := &posterView{
		Venue:   st.Venue,
		Address: s.opts.Addresses[0],
		Others:  s.opts.Addresses[1:],
		Rules:   splitLines(st.Rules),
	}
	v.PortalQR = qrSVG(portalURL(v.Address))
	if wf := s.wifi.get(); wf.Own && wf.SSID != "" {
		v.WiFi = &posterWiFi{SSID: wf.SSID, Passphrase: wf.Passphrase, QR: qrSVG(wifiURI(wf.SSID, wf.Passphrase))}
	}
	for _, lang := range posterLangs {
		tr := func(key string) string { return translate(lang, key) }
		v.Langs = append(v.Langs, posterText{
			Lang:         lang,
			Welcome:      tr("poster.p.welcome"),
			Join:         tr("poster.p.join"),
			Scan:         tr("poster.p.scan"),
			Network:      tr("poster.p.network"),
			Password:     tr("poster.p.password"),
			Open:         tr("poster.p.open"),
			Portal:       tr("poster.p.portal"),
			Browse:       tr("poster.p.browse"),
			Or:           tr("stay.or"),
			Offline:      tr("poster.p.offline"),
			RulesTitle:   tr("welcome.rules"),
			DefaultRules: splitLines(tr("welcome.rules.default")),
		})
	}
	return v
}

// portalURL is the URL of the portal at address, a host with an optional
// port as Options.Addresses holds them.
func portalURL(address string) string {
	return (&url.URL{Scheme: "http", Host: address, Path: "/"}).String()
}

// wifiEscaper escapes what the WIFI: URI format gives a meaning to.
var wifiEscaper = strings.NewReplacer(`\`, `\\`, `;`, `\;`, `,`, `\,`, `:`, `\:`, `"`, `\"`)

// wifiURI is the text of a QR code that joins a WiFi network, in the
// WIFI: format phone cameras read (from ZXing, which Android and iOS
// follow): WIFI:T:WPA;S:<ssid>;P:<passphrase>;; for a WPA network, or
// WIFI:T:nopass;S:<ssid>;; for an open one (empty passphrase). In the
// name and the passphrase, \ ; , : and " are escaped with a backslash.
func wifiURI(ssid, passphrase string) string {
	if passphrase == "" {
		return "WIFI:T:nopass;S:" + wifiEscaper.Replace(ssid) + ";;"
	}
	return "WIFI:T:WPA;S:" + wifiEscaper.Replace(ssid) + ";P:" + wifiEscaper.Replace(passphrase) + ";;"
}

package captive

import (
	"net/http"
	"strings"
)

// A Probe is one operating system's connectivity check: the requests it
// sends, and the exact reply that makes it call the network online.
type Probe struct {
	// System names the operating systems that send it, for logs and metrics.
	System string
	// Hosts are the host names it asks (lower case, without port or
	// trailing dot).
	Hosts []string
	// Paths are the request paths it asks; empty means any path.
	Paths []string
	// Online writes the reply the system expects from the real internet.
	Online func(w http.ResponseWriter, r *http.Request)
}

// Replies are copied from what the real check servers answer, because
// several systems compare the body byte for byte.
const (
	appleSuccess   = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n"
	firefoxSuccess = `<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>` + "\n"
	nmOnline       = "NetworkManager is online\n"
	kindleSuccess  = `<html><head><title>Kindle Reachability Probe Page</title><META http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><!--81ce4465-7167-4dcb-835b-dcc9e44c112a created on 2011-04-04--></head><body bgcolor="#ffffff" text="#000000">81ce4465-7167-4dcb-835b-dcc9e44c112a</body></html>`
)

func body(contentType, text string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write([]byte(text))
		}
	}
}

func noContent(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

// networkManager answers NetworkManager's checks. Besides the body each
// distribution configures, NetworkManager accepts the header
// X-NetworkManager-Status: online, which Ubuntu's server sends with an
// empty 204.
func networkManager(text string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-NetworkManager-Status", "online")
		if text == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		body("text/plain; charset=utf-8", text)(w, r)
	}
}

// Probes lists the connectivity checks the box answers. Windows' DNS check
// (dns.msftncsi.com) is answered by the DNS responder.
var Probes = []Probe{
	{
		System: "apple",
		Hosts: []string{"captive.apple.com", "www.apple.com", "www.appleiphonecell.com",
			"www.itools.info", "www.ibook.info", "www.airport.us", "www.thinkdifferent.us"},
		Paths:  []string{"/hotspot-detect.html", "/library/test/success.html", "/"},
		Online: body("text/html", appleSuccess),
	},
	{
		System: "android",
		Hosts: []string{"connectivitycheck.gstatic.com", "www.gstatic.com", "clients1.google.com",
			"clients3.google.com", "connectivitycheck.android.com", "play.googleapis.com",
			"www.google.com", "google.com"},
		Paths:  []string{"/generate_204", "/gen_204"},
		Online: noContent,
	},
	{
		System: "windows",
		Hosts:  []string{"www.msftconnecttest.com", "msftconnecttest.com", "ipv6.msftconnecttest.com"},
		Paths:  []string{"/connecttest.txt"},
		Online: body("text/plain", "Microsoft Connect Test"),
	},
	{
		System: "windows",
		Hosts:  []string{"www.msftncsi.com", "ipv6.msftncsi.com"},
		Paths:  []string{"/ncsi.txt"},
		Online: body("text/plain", "Microsoft NCSI"),
	},
	{
		System: "firefox",
		Hosts:  []string{"detectportal.firefox.com"},
		Paths:  []string{"/canonical.html"},
		Online: body("text/html", firefoxSuccess),
	},
	{
		System: "firefox",
		Hosts:  []string{"detectportal.firefox.com"},
		Paths:  []string{"/success.txt"},
		Online: body("text/plain", "success\n"),
	},
	{
		System: "networkmanager",
		Hosts:  []string{"network-test.debian.org"},
		Paths:  []string{"/nm"},
		Online: networkManager(nmOnline),
	},
	{
		System: "networkmanager",
		Hosts:  []string{"nmcheck.gnome.org"},
		Paths:  []string{"/check_network_status.txt"},
		Online: networkManager(nmOnline),
	},
	{
		System: "networkmanager",
		Hosts:  []string{"connectivity-check.ubuntu.com", "conncheck.opensuse.org"},
		Online: networkManager(""),
	},
	{
		System: "networkmanager",
		Hosts:  []string{"ping.archlinux.org"},
		Paths:  []string{"/nm-check.txt"},
		Online: networkManager(nmOnline),
	},
	{
		System: "networkmanager",
		Hosts:  []string{"fedoraproject.org"},
		Paths:  []string{"/static/hotspot.txt"},
		Online: networkManager("OK"),
	},
	{
		System: "kindle",
		Hosts:  []string{"spectrum.s3.amazonaws.com"},
		Paths:  []string{"/kindle-wifi/wifistub.html"},
		Online: body("text/html", kindleSuccess),
	},
}

// anyHostAndroid matches the Android-style checks of phone makers not
// listed above (Xiaomi, Huawei, Vivo, …): they all ask a path
// /generate_204 on a host of their own and expect a 204.
var anyHostAndroid = Probe{System: "android", Paths: []string{"/generate_204"}, Online: noContent}

// probeIndex maps "host path" (and "host *" for any path) to a probe.
type probeIndex map[string]*Probe

func indexProbes(probes []Probe) probeIndex {
	idx := make(probeIndex)
	for i := range probes {
		p := &probes[i]
		for _, h := range p.Hosts {
			if len(p.Paths) == 0 {
				idx[h+" *"] = p
			}
			for _, path := range p.Paths {
				idx[h+" "+path] = p
			}
		}
	}
	return idx
}

// match finds the probe for a request's host (normalised) and path.
func (idx probeIndex) match(host, path string) *Probe {
	if p := idx[host+" "+path]; p != nil {
		return p
	}
	if p := idx[host+" *"]; p != nil {
		return p
	}
	if path == "/generate_204" {
		return &anyHostAndroid
	}
	return nil
}

// normalHost lower-cases a Host header and strips its port and any
// trailing dot (Ubuntu asks for "connectivity-check.ubuntu.com.").
func normalHost(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return strings.ToLower(h[1:i])
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

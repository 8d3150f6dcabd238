package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// staffLogin posts a staff password to a running box and returns the
// status and the staff cookie, if one was set.
func staffLogin(t *testing.T, d *daemon, pw string) (int, *http.Cookie) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(d.url+"admin/login", url.Values{"password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "tb_staff" {
			return res.StatusCode, c
		}
	}
	return res.StatusCode, nil
}

// staffHome reports whether a staff cookie opens the staff home.
func staffHome(t *testing.T, d *daemon, c *http.Cookie) bool {
	t.Helper()
	req, _ := http.NewRequest("GET", d.url+"admin", nil)
	req.AddCookie(c)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode == 200 && strings.Contains(string(body), `action="/admin/logout"`)
}

func TestAdminPassword(t *testing.T) {
	data := filepath.Join(t.TempDir(), "box")
	dir := t.TempDir()
	write := func(name, pw string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := write("f", "le premier mot de passe")
	g := write("g", "le second mot de passe")
	h := write("h", "un troisième mot de passe")

	// Before init: nothing to change, and no data folder is created.
	_, stderr, code := tiersbox(t, "", "admin-password", "--data", data, "--password-file", g)
	if code != 1 || !strings.Contains(stderr, "no box in") {
		t.Fatalf("admin-password before init: %d %q", code, stderr)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("admin-password created a data folder")
	}

	if _, stderr, code := tiersbox(t, "", "init", "--data", data, "--venue", "La Fabrique", "--admin-password-file", f); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	// A weak password is refused.
	_, stderr, code = tiersbox(t, "", "admin-password", "--data", data, "--password-file", write("short", "court"))
	if code != 1 || !strings.Contains(stderr, "at least 8") {
		t.Fatalf("a short password: %d %q", code, stderr)
	}
	stdout, stderr, code := tiersbox(t, "", "admin-password", "--data", data, "--password-file", g)
	if code != 0 || !strings.Contains(stdout, "password is changed") {
		t.Fatalf("admin-password: %d %q %q", code, stdout, stderr)
	}

	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	if status, c := staffLogin(t, d, "le premier mot de passe"); status != http.StatusForbidden || c != nil {
		t.Errorf("the old password: %d, cookie %v", status, c)
	}
	status, c := staffLogin(t, d, "le second mot de passe")
	if status != http.StatusSeeOther || c == nil || !staffHome(t, d, c) {
		t.Fatalf("the new password: %d, cookie %v", status, c)
	}
	if !strings.Contains(d.stderr.String(), "staff login failed") || strings.Contains(d.stderr.String(), "premier") {
		t.Errorf("failed logins are not logged, or the password is:\n%s", d.stderr)
	}

	// While the box runs, its database is held: the error says so.
	_, stderr, code = tiersbox(t, "", "admin-password", "--data", data, "--password-file", h)
	if code != 1 || !strings.Contains(stderr, "the box is running") {
		t.Errorf("admin-password while running: %d %q", code, stderr)
	}
	d.stop(t, syscall.SIGTERM)

	// A new password logs everyone out: the session cookie no longer
	// works after a restart.
	if _, stderr, code := tiersbox(t, "le quatrième mot de passe\n", "admin-password", "--data", data); code != 0 {
		t.Fatalf("admin-password from stdin: %d %s", code, stderr)
	}
	d = startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	if staffHome(t, d, c) {
		t.Error("a staff session outlived the password change")
	}
	if status, c := staffLogin(t, d, "le quatrième mot de passe"); status != http.StatusSeeOther || c == nil {
		t.Errorf("the password read from stdin: %d", status)
	}
	d.stop(t, syscall.SIGTERM)
}

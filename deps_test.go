// Package tiersbox_test checks the architecture's import rules
// (DESIGN.md section 1): imports point down, cmd → portal, sync → box.
package tiersbox_test

import (
	"os/exec"
	"strings"
	"testing"
)

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	rules := []struct {
		from, forbidden, why string
	}{
		{"tiersbox/box/", "net/http", "the domain has no HTTP"},
		{"tiersbox/box/", "tiersbox/portal/", "imports point down"},
		{"tiersbox/box/", "tiersbox/sync/", "imports point down"},
		{"tiersbox/box/", "tiersbox/cmd/", "imports point down"},
		{"tiersbox/portal/", "tiersbox/sync/", "portal and sync meet only in cmd"},
		{"tiersbox/sync/", "tiersbox/portal/", "portal and sync meet only in cmd"},
		{"tiersbox/portal/", "tiersbox/cmd/", "imports point down"},
		{"tiersbox/sync/", "tiersbox/cmd/", "imports point down"},
		{"tiersbox/firmware", "tiersbox/portal/", "firmware only renders files"},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, r := range rules {
			if !strings.HasPrefix(pkg, r.from) {
				continue
			}
			checked++
			for _, imp := range imports {
				if imp == strings.TrimSuffix(r.forbidden, "/") || strings.HasPrefix(imp, r.forbidden) {
					t.Errorf("%s imports %s: %s", pkg, imp, r.why)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package was checked: the rules no longer match the layout")
	}
}

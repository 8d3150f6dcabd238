package backup

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tiersbox/box/identity"
)

// FuzzReadManifest: any bytes give a manifest that passes its own checks,
// or an error; never a panic.
func FuzzReadManifest(f *testing.F) {
	good, _ := json.Marshal(Manifest{Format: 1, BoxVersion: "v", DeviceID: "ZQPKONB-SIOX2WP-QUWSJYO-X5KVAJG-SAKMXQM-GKQRPAC-3JVQVGF-T2U44QI",
		Created: time.Unix(1700000000, 0), Files: []File{{Name: NameDatabase, Size: 3, SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}}})
	f.Add(good)
	f.Add([]byte(`{"format":1,"files":[{"name":"drive/../x"}]}`))
	f.Add([]byte(`{}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadManifest(b)
		if err != nil {
			return
		}
		again, _ := json.Marshal(m)
		if _, err := ReadManifest(again); err != nil {
			t.Fatalf("a manifest read back is refused: %v", err)
		}
	})
}

// FuzzVerifyArchive: any bytes are a verified archive or an error, never
// a panic, and what passes names only files inside the restored folder.
// (Extract, which writes, shares its checks; the tests give it the
// hostile archives.)
func FuzzVerifyArchive(f *testing.F) {
	dir := f.TempDir()
	id, err := identity.Create(dir)
	if err != nil {
		f.Fatal(err)
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, identity.CertFile))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, identity.KeyFile))
	dev := id.DeviceID.String()
	f.Add(handArchive(f, certPEM, keyPEM, dev, []entry{reg(NameDatabase, "db"), reg("drive/a/b.txt", "bonjour")}, nil))
	f.Add(handArchive(f, certPEM, keyPEM, dev, []entry{reg(NameDatabase, "db"), reg("drive/../x", "x")}, nil))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Verify(bytes.NewReader(b), 1<<20)
		if err != nil {
			return
		}
		// What passed is what Extract accepts too, and each name stays
		// inside the folder (checkName, which Extract relies on).
		for _, f := range m.Files {
			if err := checkName(f.Name); err != nil || !filepath.IsLocal(filepath.FromSlash(f.Name)) {
				t.Fatalf("accepted name %q", f.Name)
			}
		}
	})
}

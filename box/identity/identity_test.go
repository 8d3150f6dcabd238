package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
)

func TestCreateAndLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of an empty folder: got %v, want ErrNotFound", err)
	}
	id, created, err := LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate: created=%v err=%v", created, err)
	}
	again, created, err := LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate: created=%v err=%v", created, err)
	}
	if again.DeviceID != id.DeviceID {
		t.Errorf("device ID changed across loads: %v then %v", id.DeviceID, again.DeviceID)
	}

	leaf, err := x509.ParseCertificate(id.Cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != CommonName {
		t.Errorf("CommonName = %q, want %q", leaf.Subject.CommonName, CommonName)
	}
	if err := leaf.VerifyHostname(CommonName); err != nil {
		t.Errorf("a stock Syncthing verifies the name %q: %v", CommonName, err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		t.Errorf("key is %T, want ECDSA P-384", leaf.PublicKey)
	}
	if leaf.NotAfter.Sub(leaf.NotBefore) < 19*365*24*60*60*1e9 {
		t.Errorf("certificate lifetime is only %v", leaf.NotAfter.Sub(leaf.NotBefore))
	}
	// The device ID is the SHA-256 of the DER certificate.
	sum := sha256.Sum256(id.Cert.Certificate[0])
	if want := protocol.DeviceID(sum); id.DeviceID != want {
		t.Errorf("device ID %v, want %v", id.DeviceID, want)
	}
	if st, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", st.Mode(), err)
	}
}

func TestLoadRefusesDamage(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"key without certificate", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, CertFile))
		}, "cert.pem"},
		{"certificate without key", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, KeyFile))
		}, "key.pem"},
		{"garbage certificate", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, CertFile), []byte("not a certificate"), 0o644)
		}, "certificate and key"},
		{"key of another box", func(t *testing.T, dir string) {
			other := t.TempDir()
			if _, err := Create(other); err != nil {
				t.Fatal(err)
			}
			key, _ := os.ReadFile(filepath.Join(other, KeyFile))
			os.WriteFile(filepath.Join(dir, KeyFile), key, 0o600)
		}, "certificate and key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Create(dir); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)
			_, err := Load(dir)
			if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: got %v, want an error naming %q", err, tt.want)
			}
			// LoadOrCreate must not replace a damaged identity either.
			if _, created, err := LoadOrCreate(dir); err == nil || created {
				t.Fatalf("LoadOrCreate replaced a damaged identity: created=%v err=%v", created, err)
			}
		})
	}
}

func TestCreateRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir); err == nil {
		t.Fatal("Create over an existing identity succeeded")
	}
}

// TestStockSyncthingAgrees gives the box's certificate to a stock Syncthing
// and checks that it derives the same device ID. scripts/test installs
// Debian's syncthing; outside CI the test says how to get it.
func TestStockSyncthingAgrees(t *testing.T) {
	bin, err := exec.LookPath("syncthing")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("syncthing is not installed (scripts/test installs it: apt-get install syncthing)")
		}
		t.Skip("syncthing not installed: apt-get install syncthing")
	}
	home := t.TempDir()
	id, err := Create(home)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--home="+home, "--device-id")
	cmd.Env = append(os.Environ(), "STNORESTART=1", "STNOUPGRADE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("syncthing --device-id: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != id.DeviceID.String() {
		t.Errorf("stock Syncthing says %q, the box says %q", got, id.DeviceID)
	}
}

// Package identity holds the box's long-lived TLS certificate and the device
// ID derived from it.
//
// The certificate is of the kind Syncthing makes for its devices (ECDSA
// P-384, self-signed, CommonName "syncthing"), because a stock Syncthing
// refuses peers whose certificate names anything else, and box-to-box sync
// speaks Syncthing's BEP. The device ID is the SHA-256 of the certificate,
// written as Syncthing writes it, so staff can link a box to a stock
// Syncthing by copying one string.
//
// Anything may import this package; it imports no network code of its own.
package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// File names inside the data folder. They are the names Syncthing uses in its
// own home folder, so a box's identity can be inspected with Syncthing tools.
const (
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// CommonName is the certificate name a stock Syncthing requires of its peers.
const CommonName = "syncthing"

// lifetime matches Syncthing's device certificates: twenty years, since a
// device ID that changes breaks every link made with it.
const lifetime = 20 * 365 * 24 * time.Hour

// ErrNotFound is returned by Load when the data folder holds no identity.
var ErrNotFound = errors.New("identity: no certificate in the data folder")

// Identity is the box's certificate and device ID. It is immutable.
type Identity struct {
	Cert     tls.Certificate
	DeviceID protocol.DeviceID
}

// Load reads the identity from dir. It returns ErrNotFound when neither file
// exists, and an error (never a new identity) when only one of them does or
// when they do not match: replacing a damaged identity silently would cut
// the box off from every box linked to it.
func Load(dir string) (*Identity, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return nil, ErrNotFound
	case certErr != nil:
		return nil, fmt.Errorf("identity: read %s: %w", certPath, certErr)
	case keyErr != nil:
		return nil, fmt.Errorf("identity: read %s: %w", keyPath, keyErr)
	}
	return parse(certPEM, keyPEM)
}

// LoadOrCreate loads the identity from dir, creating a new one when the
// folder holds none. created reports whether it did.
func LoadOrCreate(dir string) (id *Identity, created bool, err error) {
	id, err = Load(dir)
	if !errors.Is(err, ErrNotFound) {
		return id, false, err
	}
	id, err = Create(dir)
	return id, err == nil, err
}

// Create makes a new certificate and key in dir. It refuses to overwrite
// existing files.
func Create(dir string) (*Identity, error) {
	certPEM, keyPEM, err := generate(time.Now())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("identity: create folder: %w", err)
	}
	// The key first: a folder with a key and no certificate is refused by
	// Load, never mistaken for an empty one.
	if err := writeNew(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(filepath.Join(dir, CertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	return parse(certPEM, keyPEM)
}

func generate(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, nil, fmt.Errorf("identity: serial: %w", err)
	}
	notBefore := now.Truncate(24 * time.Hour)
	tmpl := x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         CommonName,
			Organization:       []string{"Syncthing"},
			OrganizationalUnit: []string{"Automatically Generated"},
		},
		DNSNames:              []string{CommonName},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(lifetime),
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

func parse(certPEM, keyPEM []byte) (*Identity, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: certificate and key: %w", err)
	}
	return &Identity{Cert: cert, DeviceID: protocol.NewDeviceID(cert.Certificate[0])}, nil
}

// writeNew writes data to a new file, synced to disk before it is renamed
// into place, so a power cut never leaves half a key.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("identity: %s already exists, not overwriting it", path)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("identity: write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("identity: write %s: %w", path, err)
	}
	return nil
}

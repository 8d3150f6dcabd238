// Package password hashes the staff password with argon2id and checks it.
//
// Hashes are stored in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so the parameters travel with
// each hash and can be raised later without breaking existing ones.
// Anything may import this package.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters sized for a Raspberry Pi: OWASP's argon2id minimum (19 MiB,
// two passes, one lane) takes a fraction of a second on a Pi 3 and leaves
// memory for hundreds of visitors.
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	saltLen   = 16
	keyLen    = 32
)

// MinLength and MaxLength bound a new password, in bytes. The upper bound
// keeps hashing cost independent of what a client sends.
const (
	MinLength = 8
	MaxLength = 1024
)

// ErrMismatch is returned by Verify for a wrong password.
var ErrMismatch = errors.New("password: mismatch")

var b64 = base64.RawStdEncoding

// Check reports whether pw is acceptable as a new staff password.
func Check(pw string) error {
	switch {
	case len(pw) < MinLength:
		return fmt.Errorf("password: at least %d characters are needed", MinLength)
	case len(pw) > MaxLength:
		return fmt.Errorf("password: at most %d characters are allowed", MaxLength)
	}
	return nil
}

// Hash returns the PHC string of a new salted argon2id hash of pw.
func Hash(pw string) (string, error) {
	if err := Check(pw); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, lanes, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, passes, lanes, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks pw against a hash made by Hash. It returns ErrMismatch for a
// wrong password and another error for a malformed hash.
func Verify(hash, pw string) error {
	if len(pw) > MaxLength {
		return ErrMismatch
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return errors.New("password: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return fmt.Errorf("password: unsupported argon2 version %q", parts[2])
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return fmt.Errorf("password: parameters %q: %w", parts[3], err)
	}
	// Refuse parameters no hash of ours has, which a tampered database
	// could use to make every login cost gigabytes.
	if m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 || p > 16 {
		return fmt.Errorf("password: parameters %q out of range", parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("password: salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return errors.New("password: malformed key")
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// Verify reads a whole archive and checks it (names, types, sizes, every
// SHA-256, the manifest, the identity's certificate and key), writing
// nothing. maxBytes, when above zero, bounds what the entries declare in
// all.
func Verify(r io.Reader, maxBytes int64) (*Manifest, error) {
	return readArchive(r, maxBytes, nil)
}

// Extract reads a whole archive into dir, which must not exist, checking
// it as Verify does. On any error dir is deleted again. maxBytes, when
// above zero, bounds what the entries declare in all (the free space of
// dir's disk, say), so that a hostile size is refused before it fills the
// disk.
func Extract(r io.Reader, dir string, maxBytes int64) (m *Manifest, err error) {
	if err := os.Mkdir(dir, 0o750); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer root.Close()
	var dirs []string
	m, err = readArchive(r, maxBytes, func(hdr *tar.Header, body func(io.Writer) error) error {
		// The root keeps every write inside dir, whatever the name.
		name := filepath.FromSlash(hdr.Name)
		if d := path.Dir(hdr.Name); d != "." {
			if err := root.MkdirAll(filepath.FromSlash(d), 0o750); err != nil {
				return err
			}
			dirs = append(dirs, d)
		}
		perm := os.FileMode(0o644)
		if hdr.Name == NameKey || hdr.Name == NameDatabase {
			perm = 0o600
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return err
		}
		err = body(f)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return root.Chtimes(name, time.Now(), hdr.ModTime)
	})
	if err != nil {
		return nil, err
	}
	// Make the folders' entries durable too, before anything renames
	// them into place.
	for _, d := range append(dirs, ".") {
		if f, err := root.Open(filepath.FromSlash(d)); err == nil {
			f.Sync()
			f.Close()
		}
	}
	return m, nil
}

// readArchive checks the archive entry by entry; put, when not nil,
// stores an entry by calling body with where to write it (body checks
// the content as it copies).
func readArchive(r io.Reader, maxBytes int64, put func(hdr *tar.Header, body func(io.Writer) error) error) (*Manifest, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, archiveErr("gzip: %v", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	tr := tar.NewReader(r)
	var seen []File
	names := make(map[string]bool)
	small := make(map[string][]byte) // the identity's files and the manifest
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if len(seen) == 0 {
				return nil, archiveErr("the file is empty")
			}
			return nil, archiveErr("it ends without a manifest (cut short?)")
		}
		if err != nil {
			return nil, archiveErr("tar: %v", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, archiveErr("%q is not a regular file (type %q)", hdr.Name, hdr.Typeflag)
		}
		if err := checkName(hdr.Name); err != nil {
			return nil, err
		}
		if names[hdr.Name] {
			return nil, archiveErr("%q appears twice", hdr.Name)
		}
		names[hdr.Name] = true
		switch {
		case hdr.Size < 0:
			return nil, archiveErr("%q has a negative size", hdr.Name)
		case (hdr.Name == NameCert || hdr.Name == NameKey) && hdr.Size > maxPEM,
			hdr.Name == NameManifest && hdr.Size > maxManifest:
			return nil, archiveErr("%q is %d bytes long", hdr.Name, hdr.Size)
		}
		total += hdr.Size
		if maxBytes > 0 && total > maxBytes {
			return nil, archiveErr("its files take more than the %d bytes free on the disk", maxBytes)
		}

		h := sha256.New()
		var mem *bytes.Buffer
		body := func(w io.Writer) error {
			n, err := io.Copy(io.MultiWriter(w, h), tr)
			if err != nil {
				return archiveErr("%q cut short after %d of %d bytes: %v", hdr.Name, n, hdr.Size, err)
			}
			if n != hdr.Size {
				return archiveErr("%q cut short after %d of %d bytes", hdr.Name, n, hdr.Size)
			}
			return nil
		}
		switch {
		case hdr.Name == NameCert || hdr.Name == NameKey || hdr.Name == NameManifest:
			mem = new(bytes.Buffer)
			err = body(mem)
			if err == nil && put != nil && hdr.Name != NameManifest {
				b := mem.Bytes()
				err = put(hdr, func(w io.Writer) error { _, err := w.Write(b); return err })
			}
		case put != nil:
			err = put(hdr, body)
		default:
			err = body(io.Discard)
		}
		if err != nil {
			if errors.Is(err, ErrArchive) {
				return nil, err
			}
			return nil, fmt.Errorf("backup: extract %s: %w", hdr.Name, err)
		}
		if hdr.Name == NameManifest {
			m, err := ReadManifest(mem.Bytes())
			if err != nil {
				return nil, err
			}
			if _, err := tr.Next(); !errors.Is(err, io.EOF) {
				return nil, archiveErr("entries follow the manifest")
			}
			if err := matchManifest(m, seen, small); err != nil {
				return nil, err
			}
			return m, nil
		}
		if mem != nil {
			small[hdr.Name] = mem.Bytes()
		}
		seen = append(seen, File{Name: hdr.Name, Size: hdr.Size, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
}

// matchManifest checks that the manifest lists exactly the entries read,
// in order, with their sizes and hashes, and that the identity's files
// hold the device the manifest names.
func matchManifest(m *Manifest, seen []File, small map[string][]byte) error {
	if len(m.Files) != len(seen) {
		return archiveErr("the manifest lists %d files, the archive holds %d", len(m.Files), len(seen))
	}
	for i, f := range m.Files {
		if f != seen[i] {
			if f.Name == seen[i].Name {
				return archiveErr("%q differs from the manifest (damaged?)", f.Name)
			}
			return archiveErr("entry %d is %q, the manifest says %q", i+1, seen[i].Name, f.Name)
		}
	}
	cert, key := small[NameCert], small[NameKey]
	if cert == nil || key == nil {
		return archiveErr("it holds no identity (certificate and key)")
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return archiveErr("the identity: %v", err)
	}
	if id := protocol.NewDeviceID(pair.Certificate[0]); id.String() != m.DeviceID {
		return archiveErr("the certificate is device %s, the manifest says %s", id, m.DeviceID)
	}
	return nil
}

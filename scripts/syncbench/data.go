package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// entry is one file of a data set.
type entry struct {
	name string // slash-separated, relative to the folder
	size int64
	sum  [32]byte
}

// dataset is the content of the drive folder for the initial sync,
// written once and hard-linked into each sender's folder.
type dataset struct {
	dir   string
	files []entry // the large file first
	bytes int64
}

// generate writes one large file and small ones (6 to 14 KiB, 10 KiB
// on average, random content, up to 100 to a folder) for sizeMiB MiB in
// all.
func generate(dir string, sizeMiB, small int) *dataset {
	rng := rand.New(rand.NewPCG(1, 2))
	ds := &dataset{dir: dir}
	total := int64(sizeMiB) << 20
	var smallBytes int64
	sizes := make([]int64, small)
	for i := range sizes {
		sizes[i] = 6<<10 + rng.Int64N(8<<10+1)
		smallBytes += sizes[i]
	}
	big := total - smallBytes
	if big < 1<<20 {
		die("%d small files take %d bytes: SIZE_MIB=%d leaves less than 1 MiB for the large file", small, smallBytes, sizeMiB)
	}
	src := rand.NewChaCha8([32]byte{'t', 'i', 'e', 'r', 's', 'b', 'o', 'x'})
	ds.files = append(ds.files, writeRandom(dir, "captation-atelier.mkv", big, src))
	folders := min(100, small)
	for i, sz := range sizes {
		name := fmt.Sprintf("atelier-%04d/notes-%05d.txt", i*folders/small+1, i+1)
		ds.files = append(ds.files, writeRandom(dir, name, sz, src))
	}
	for _, f := range ds.files {
		ds.bytes += f.size
	}
	return ds
}

func writeRandom(dir, name string, size int64, src io.Reader) entry {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		die("%v", err)
	}
	f, err := os.Create(p)
	if err != nil {
		die("%v", err)
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, src, size); err != nil {
		die("write %s: %v", p, err)
	}
	if err := w.Flush(); err != nil {
		die("write %s: %v", p, err)
	}
	if err := f.Close(); err != nil {
		die("write %s: %v", p, err)
	}
	e := entry{name: name, size: size}
	h.Sum(e.sum[:0])
	return e
}

// linkInto hard-links the data set into a sender's folder: no copy, and
// both senders read the same inodes.
func (ds *dataset) linkInto(dst string) {
	for _, f := range ds.files {
		to := filepath.Join(dst, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			die("%v", err)
		}
		if err := os.Link(filepath.Join(ds.dir, filepath.FromSlash(f.name)), to); err != nil {
			die("%v", err)
		}
	}
}

// onDisk counts the regular files under root and their bytes, leaving
// out hidden names (.stfolder, temporary files).
func onDisk(root string) (files int, bytes int64) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				files++
				bytes += info.Size()
			}
		}
		return nil
	})
	return files, bytes
}

// verify checks what a receiver holds: as many files and bytes as
// expected, and the SHA-256 of the large file and of about 100 small
// ones. It returns how many files were hashed.
func (ds *dataset) verify(root string, wantFiles int, wantBytes int64) (int, error) {
	files, bytes := onDisk(root)
	if files != wantFiles || bytes != wantBytes {
		return 0, fmt.Errorf("%s holds %d files, %d bytes; want %d files, %d bytes", root, files, bytes, wantFiles, wantBytes)
	}
	step := max(1, (len(ds.files)-1)/100)
	sample := []entry{ds.files[0]}
	for i := 1; i < len(ds.files); i += step {
		sample = append(sample, ds.files[i])
	}
	for _, e := range sample {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(e.name)))
		if err != nil {
			return 0, err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return 0, err
		}
		if [32]byte(h.Sum(nil)) != e.sum {
			return 0, fmt.Errorf("%s differs from what was sent", e.name)
		}
	}
	return len(sample), nil
}

// catchup is what is written at a sender while its receiver is stopped:
// text typed into pads (written as text files for stock Syncthing) and
// new drive files. The same for every run.
type catchup struct {
	pads  []string // the text typed into pad i
	files []memFile
}

type memFile struct {
	name string
	data []byte
}

func (c *catchup) padBytes() (n int64) {
	for _, t := range c.pads {
		n += int64(len(t))
	}
	return n
}

func (c *catchup) fileBytes() (n int64) {
	for _, f := range c.files {
		n += int64(len(f.data))
	}
	return n
}

var words = strings.Fields(`atelier vélo chambre à air rustine pneu dérailleur chaîne frein
	patin câble gaine rayon jante moyeu selle guidon pédale manivelle plateau pignon
	réunion compte rendu ordre du jour bénévoles adhérents permanence samedi matin
	soupe repair café couture fer à souder grille-pain lampe bouilloire aspirateur
	prochaine fois apporter outils clé plate tournevis pince multimètre étiquette
	merci à toutes et à tous pour cette belle journée nous avons réparé objets`)

// newCatchup makes pads of padKiB KiB of text in all and files files of
// fileBytes bytes in all (random content, sizes within ±25 % of even).
func newCatchup(pads, padKiB, files int, fileBytes int64) *catchup {
	rng := rand.New(rand.NewPCG(3, 4))
	c := &catchup{}
	for range pads {
		var b strings.Builder
		want := padKiB << 10 / pads
		for n := 0; b.Len() < want; n++ {
			w := words[rng.IntN(len(words))]
			if n%14 == 13 {
				w += "\n"
			} else {
				w += " "
			}
			b.WriteString(w)
		}
		// Cut on a rune boundary.
		t := b.String()
		for len(t) > want || !utf8.ValidString(t) {
			t = t[:len(t)-1]
		}
		c.pads = append(c.pads, t)
	}
	src := rand.NewChaCha8([32]byte{'r', 'a', 't', 't', 'r', 'a', 'p', 'a', 'g', 'e'})
	even := fileBytes / int64(files)
	var left = fileBytes
	for i := range files {
		sz := even*3/4 + rng.Int64N(even/2+1)
		if i == files-1 {
			sz = max(left, even/4)
		}
		left -= sz
		data := make([]byte, sz)
		src.Read(data)
		c.files = append(c.files, memFile{name: fmt.Sprintf("rattrapage-%02d.bin", i+1), data: data})
	}
	return c
}

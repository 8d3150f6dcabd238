package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func openLog(t *testing.T, dir string, opts Options) (*Log, []Record) {
	t.Helper()
	l, recs, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, recs
}

func datas(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Data))
	}
	return out
}

// afterCrash returns, quoted, the records a new Open of dir finds once
// l's process is gone: its file closed, without Close.
func afterCrash(t *testing.T, l *Log, dir string) string {
	t.Helper()
	l.file.Close()
	_, recs := openLog(t, dir, Options{})
	return fmt.Sprintf("%q", datas(recs))
}

func segmentFiles(t *testing.T, dir string) int {
	t.Helper()
	segs, err := segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(segs)
}

// TestRecordsOutliveTheProcess: what was appended and not released is
// found again at the next Open, in order, with the other records of its
// segment; once every record is released and the log closed, nothing is.
func TestRecordsOutliveTheProcess(t *testing.T) {
	dir := t.TempDir()
	l, recs := openLog(t, dir, Options{})
	if len(recs) != 0 {
		t.Fatalf("a new log holds %d records", len(recs))
	}
	var ps []Pos
	for _, d := range []string{"un", "deux", "", "quatre"} {
		p, err := l.Append([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	l.Release(ps[1])
	// No Close: as after a crash.
	l2, recs := openLog(t, dir, Options{})
	// The released record shares its segment with live ones: it comes
	// back with them.
	if got, want := fmt.Sprintf("%q", datas(recs)), `["un" "deux" "" "quatre"]`; got != want {
		t.Fatalf("records %s, want %s", got, want)
	}
	l2.Release(recs[0].Pos, recs[1].Pos, recs[2].Pos, recs[3].Pos)
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	l.file.Close()
	if n := segmentFiles(t, dir); n != 0 {
		t.Fatalf("%d segment files left once every record is released and the log closed", n)
	}
	_, recs = openLog(t, dir, Options{})
	if len(recs) != 0 {
		t.Fatalf("%d records after all were released", len(recs))
	}
}

// TestSegmentsLeaveOnceReleased: appends move to a new segment past the
// segment size, and a segment's file goes once all its records are
// released, but never the one appends go to.
func TestSegmentsLeaveOnceReleased(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, dir, Options{SegmentSize: 100})
	var ps []Pos
	for i := range 10 {
		p, err := l.Append(bytes.Repeat([]byte{byte(i)}, 40))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if n := segmentFiles(t, dir); n < 4 {
		t.Fatalf("%d segment files for 480 bytes of 100-byte segments", n)
	}
	l.Release(ps[:9]...)
	if n := segmentFiles(t, dir); n != 1 {
		t.Fatalf("%d segment files with one record live, want 1", n)
	}
	l.Release(ps[9])
	if n := segmentFiles(t, dir); n != 1 {
		t.Fatalf("%d segment files: the one appends go to must stay", n)
	}
	// Releasing twice changes nothing.
	l.Release(ps[9])
	if _, err := l.Append([]byte("encore")); err != nil {
		t.Fatal(err)
	}
	if got := afterCrash(t, l, dir); got != `["encore"]` {
		t.Fatalf("records %s after a crash, want the last one", got)
	}
}

// TestConcurrentAppends: many goroutines append at once, sharing syncs;
// each record is found whole at the next Open, exactly once.
func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, dir, Options{SegmentSize: 4096})
	const writers, each = 8, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	pos := make(map[string]Pos)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				p, err := l.Append(fmt.Appendf(nil, "%d-%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				pos[fmt.Sprintf("%d-%d", w, i)] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	l.file.Close()
	l2, recs := openLog(t, dir, Options{})
	seen := make(map[string]int)
	for _, r := range recs {
		seen[string(r.Data)]++
	}
	for w := range writers {
		for i := range each {
			if n := seen[fmt.Sprintf("%d-%d", w, i)]; n != 1 {
				t.Fatalf("record %d-%d found %d times", w, i, n)
			}
		}
	}
	if len(recs) != writers*each {
		t.Fatalf("%d records, want %d", len(recs), writers*each)
	}
	// Append said where each record is: the segment Open found it in.
	for _, r := range recs {
		if pos[string(r.Data)] != r.Pos {
			t.Fatalf("record %s: Append said %v, it is in %v", r.Data, pos[string(r.Data)], r.Pos)
		}
	}
	// Released, concurrently, every segment goes but the one appends go to.
	for w := range writers {
		wg.Go(func() {
			for _, r := range recs[w*each : (w+1)*each] {
				l2.Release(r.Pos)
			}
		})
	}
	wg.Wait()
	if n := segmentFiles(t, dir); n != 1 {
		t.Fatalf("%d segment files once all is released", n)
	}
}

// TestFailedWriteMovesOn: an append whose write fails returns the error
// and is not found again; the next goes to a new segment, since the old
// one may end in part of a record, and is found at the next Open.
func TestFailedWriteMovesOn(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, dir, Options{})
	if _, err := l.Append([]byte("avant")); err != nil {
		t.Fatal(err)
	}
	l.file.Close() // every write to it now fails
	if _, err := l.Append([]byte("perdu")); err == nil {
		t.Fatal("an append to a closed file succeeded")
	}
	p, err := l.Append([]byte("après"))
	if err != nil {
		t.Fatalf("the append after a failed write: %v", err)
	}
	if p.seg == 1 {
		t.Fatal("the append after a failed write went to the same segment")
	}
	if got := afterCrash(t, l, dir); got != `["avant" "après"]` {
		t.Fatalf("records %s", got)
	}
}

// TestTornTail: a crash in the middle of a write leaves a partial or
// damaged last record; Open returns the records before it, and appends
// go on in a new segment.
func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(b []byte) []byte
		want string
	}{
		{"header only", func(b []byte) []byte { return b[:len(header)] }, `[]`},
		{"zeros", func(b []byte) []byte { return make([]byte, len(b)) }, `[]`},
		{"zeros after a record", func(b []byte) []byte {
			clear(b[len(b)-len("deux")-frameSize:])
			return b
		}, `["un"]`},
		{"empty file", func(b []byte) []byte { return b[:0] }, `[]`},
		{"half a frame", func(b []byte) []byte { return b[:len(b)-len("deux")-4] }, `["un"]`},
		{"half the data", func(b []byte) []byte { return b[:len(b)-2] }, `["un"]`},
		{"flipped byte", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, `["un"]`},
		{"absurd length", func(b []byte) []byte {
			b[len(b)-len("deux")-frameSize] = 0xff
			return b
		}, `["un"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := openLog(t, dir, Options{})
			l.Append([]byte("un"))
			l.Append([]byte("deux"))
			l.file.Close()
			path := l.path(l.seg)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.cut(b), 0o600); err != nil {
				t.Fatal(err)
			}
			l, recs := openLog(t, dir, Options{})
			if got := fmt.Sprintf("%q", datas(recs)); got != tc.want {
				t.Fatalf("records %s, want %s", got, tc.want)
			}
			if _, err := l.Append([]byte("trois")); err != nil {
				t.Fatal(err)
			}
			l.file.Close()
			_, recs = openLog(t, dir, Options{})
			if got := datas(recs); len(got) == 0 || got[len(got)-1] != "trois" {
				t.Fatalf("records %q after a new append", got)
			}
		})
	}
}

// TestNotASegment: a file named like a segment that this program did not
// write stops Open with a clear error, and is left as it is.
func TestNotASegment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0000000000000001.wal")
	if err := os.WriteFile(path, []byte("autre chose, plus long"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, Options{}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("not a write-ahead segment")) {
		t.Fatalf("Open: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "autre chose, plus long" {
		t.Fatalf("the file was changed: %q", b)
	}
}

func TestAppendLimits(t *testing.T) {
	l, _ := openLog(t, t.TempDir(), Options{})
	if _, err := l.Append(make([]byte, MaxRecord+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("an oversized record: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("après")); !errors.Is(err, ErrClosed) {
		t.Fatalf("an append after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func encodeSegment(datas ...string) []byte {
	seg := append([]byte(nil), header[:]...)
	for _, d := range datas {
		fr := frame([]byte(d))
		seg = append(append(seg, fr[:]...), d...)
	}
	return seg
}

// FuzzReadRecords: whatever a segment file holds, reading it returns an
// error or records, never a panic, and the records of a well-formed
// prefix come back whole.
func FuzzReadRecords(f *testing.F) {
	seg := encodeSegment("un", "", "trois")
	f.Add(seg)
	f.Add(header[:])
	f.Add(append(header[:], make([]byte, 16)...))
	f.Add([]byte("tbwal\n\x00\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, end, err := readRecords(bytes.NewReader(b))
		if err != nil {
			return
		}
		if bytes.Equal(b, seg) && (len(recs) != 3 || end != int64(len(seg))) {
			t.Fatalf("%d records, to offset %d, read from a segment of 3", len(recs), end)
		}
		// What is read is exactly the start of the file, framed.
		if len(recs) > 0 {
			var ds []string
			for _, r := range recs {
				ds = append(ds, string(r))
			}
			if again := encodeSegment(ds...); int64(len(again)) != end || !bytes.HasPrefix(b, again) {
				t.Fatalf("records %q to offset %d are not how the file starts", ds, end)
			}
		}
	})
}

// TestSeal: after Seal, appends go to a new segment, and the old one goes
// as soon as its records are released, without waiting to be full; a
// file left under the new segment's name by a failed try is no obstacle.
func TestSeal(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, dir, Options{})
	a, err := l.Append([]byte("refusé"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.path(l.seg+1), []byte("un essai manqué"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.Seal()
	b, err := l.Append([]byte("suivant"))
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("an append after Seal went to the same segment")
	}
	l.Release(a)
	if n := segmentFiles(t, dir); n != 1 {
		t.Fatalf("%d segment files once the sealed one's records are released", n)
	}
	if got := afterCrash(t, l, dir); got != `["suivant"]` {
		t.Fatalf("records %s after a crash", got)
	}
}

// TestDamagedSegmentSetAside: a segment with data but no readable record
// (its start damaged) is neither read nor removed: Open sets it aside,
// and the log goes on.
func TestDamagedSegmentSetAside(t *testing.T) {
	dir := t.TempDir()
	seg := encodeSegment("un", "deux")
	clear(seg[:len(header)+frameSize])
	path := filepath.Join(dir, "0000000000000003.wal")
	if err := os.WriteFile(path, seg, 0o600); err != nil {
		t.Fatal(err)
	}
	l, recs := openLog(t, dir, Options{})
	if len(recs) != 0 {
		t.Fatalf("records %q from a damaged segment", datas(recs))
	}
	if b, err := os.ReadFile(path + ".damaged"); err != nil || !bytes.Equal(b, seg) {
		t.Fatalf("the damaged segment set aside: %v", err)
	}
	if p, err := l.Append([]byte("après")); err != nil || p.seg <= 3 {
		t.Fatalf("append after a damaged segment: %v in %v", err, p)
	}
}

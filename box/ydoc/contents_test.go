package ydoc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// allKinds is one client's update holding every content kind Yjs writes,
// in the canonical form Yjs encodes a document: re-encoding must give the
// same bytes.
func allKinds() []byte {
	const c = 77
	var e encoder
	root := func(info byte, name string) {
		e.byte(info)
		e.uvarint(1)
		e.string(name)
	}
	e.uvarint(1)
	e.uvarint(8)
	e.uvarint(c)
	e.uvarint(0)
	root(refJSON, "json") // 0-1: legacy JSON
	e.uvarint(2)
	e.string(`{"a":1}`)
	e.string("undefined")
	root(refBinary, "bin") // 2
	e.bytes([]byte{0, 1, 2, 255})
	root(refString, "text") // 3-4
	e.string("hé")
	e.byte(0x80 | refEmbed) // 5: embed after "hé"
	e.uvarint(c)
	e.uvarint(4)
	e.string(`{"image":"x.png"}`)
	e.byte(0x80 | refFormat) // 6
	e.uvarint(c)
	e.uvarint(5)
	e.string("bold")
	e.string("true")
	root(0x20|refType, "map") // 7: an XML element under key "el"
	e.string("el")
	e.uvarint(uint64(KindXmlElement))
	e.string("p")
	e.byte(0x20 | refDoc) // 8: a sub-document in the element's attributes
	e.uvarint(0)
	e.uvarint(c)
	e.uvarint(7)
	e.string("sub")
	e.string("0c5b1a2e-guid")
	e.writeAny(&Object{Keys: []string{"gc"}, Values: []any{false}})
	e.byte(refAny) // 9-10: any values, nested
	e.uvarint(1)
	e.string("any")
	e.uvarint(2)
	e.writeAny(&Object{Keys: []string{"n", "f", "big", "list", "u"}, Values: []any{int64(-42), float64(1.5e300), BigInt(1 << 60), []any{true, nil, "x"}, Undefined{}}})
	e.writeAny(float32(0.5))
	e.uvarint(0)
	return e.buf
}

func TestEveryContentKindRoundTrips(t *testing.T) {
	u := allKinds()
	d := NewDoc(Options{ClientID: 1})
	if err := d.ApplyUpdate(u); err != nil {
		t.Fatal(err)
	}
	if d.Pending() {
		t.Fatal("pending")
	}
	if got := d.EncodeStateAsUpdate(nil); !bytes.Equal(got, u) {
		t.Fatalf("re-encoded differently:\n got %x\nwant %x", got, u)
	}
	if got := d.Text("text").String(); got != "hé" {
		t.Errorf("text %q", got)
	}
	if got := d.Array("json").JSON(); len(got) != 2 || got[1] != nil {
		t.Errorf("legacy JSON content: %v", got)
	}
	// Merging and diffing keep every kind too.
	m, err := MergeUpdates(u, u)
	if err != nil || !bytes.Equal(m, u) {
		t.Errorf("merging an update with itself: %v\n got %x", err, m)
	}
	if diff, err := DiffUpdate(u, StateVector{77: 3}); err != nil || len(diff) == 0 {
		t.Errorf("diff: %v", err)
	}
	// Real Yjs takes it as the same document.
	dir := yjsScripts(t)
	in, _ := json.Marshal(map[string]any{"updates": []string{base64.StdEncoding.EncodeToString(u)}, "gc": true})
	cmd := exec.Command("node", filepath.Join(dir, "apply.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("yjs refused it: %v", err)
	}
	var got struct {
		State   string `json:"state"`
		Pending bool   `json:"pending"`
	}
	json.Unmarshal(out, &got)
	if got.Pending || got.State != base64.StdEncoding.EncodeToString(u) {
		t.Errorf("yjs encodes it as %s", got.State)
	}
}

// TestHostileAllocation: refused updates cost at most a small multiple of
// their size in memory.
func TestHostileAllocation(t *testing.T) {
	var e encoder
	e.uvarint(1)
	e.uvarint(1)
	e.uvarint(3)
	e.uvarint(0)
	e.byte(refAny)
	e.uvarint(1)
	e.string("t")
	e.uvarint(1)
	e.byte(117)
	e.uvarint(1 << 40) // an array claiming a trillion elements
	update := e.buf
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 100 {
		if err := NewDoc(Options{ClientID: 1}).ApplyUpdate(update); err == nil {
			t.Fatal("accepted")
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > 16<<10 {
		t.Errorf("a %d-byte hostile update allocated %d bytes", len(update), per)
	}
}

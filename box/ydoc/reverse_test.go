package ydoc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// yjsScripts returns the folder of the Node scripts with their packages
// installed, or skips (fails in CI) when Node or the packages are missing.
func yjsScripts(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "yjs"))
	_, errNode := exec.LookPath("node")
	_, errMods := os.Stat(filepath.Join(dir, "node_modules", "yjs"))
	if errNode != nil || errMods != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Node or scripts/yjs/node_modules missing (scripts/test runs npm ci there): %v %v", errNode, errMods)
		}
		t.Skip("needs node and `npm ci` in scripts/yjs")
	}
	return dir
}

// goSession makes random concurrent edits through the Go API on several
// documents, syncing them now and then, and returns every update they
// emitted (remote ones included: Yjs then sees duplicates too).
func goSession(seed uint64) (updates [][]byte, final *Doc) {
	rng := rand.New(rand.NewPCG(seed, 7))
	n := 2 + rng.IntN(2)
	docs := make([]*Doc, n)
	for i := range docs {
		d := NewDoc(Options{ClientID: uint64(1000*seed + uint64(i) + 1)})
		d.OnUpdate(func(u []byte) { updates = append(updates, bytes.Clone(u)) })
		docs[i] = d
	}
	words := []string{"a", "bonjour ", "é", "😀", "👩‍🔧", "日本", "\n", "xyz"}
	for step := 0; step < 80; step++ {
		d := docs[rng.IntN(n)]
		txt, m, arr := d.Text("content"), d.Map("meta"), d.Array("list")
		switch r := rng.IntN(12); {
		case r < 5:
			pos := safePos(txt, rng.IntN(txt.Len()+1))
			txt.Insert(pos, words[rng.IntN(len(words))])
		case r < 7 && txt.Len() > 0:
			pos := safePos(txt, rng.IntN(txt.Len()))
			end := safePos(txt, min(txt.Len(), pos+1+rng.IntN(4)))
			if end > pos {
				txt.Delete(pos, end-pos)
			}
		case r < 8:
			m.Set([]string{"title", "author", "tags"}[rng.IntN(3)], []any{"Atelier", 42.0, true, nil, []any{"a", 1.5}, map[string]any{"k": "v"}}[rng.IntN(6)])
		case r < 9:
			arr.Insert(rng.IntN(arr.Len()+1), "item", float64(rng.IntN(100)))
		case r < 10 && arr.Len() > 0:
			arr.Delete(rng.IntN(arr.Len()), 1)
		default:
			a, b := docs[rng.IntN(n)], docs[rng.IntN(n)]
			b.ApplyUpdate(a.EncodeStateAsUpdate(b.StateVector()))
		}
	}
	for _, a := range docs {
		for _, b := range docs {
			b.ApplyUpdate(a.EncodeStateAsUpdate(b.StateVector()))
		}
	}
	return updates, docs[0]
}

// safePos moves a UTF-16 position off the middle of a surrogate pair.
func safePos(t *Text, pos int) int {
	units := 0
	for _, r := range t.String() {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if units+w > pos {
			return units
		}
		units += w
	}
	return units
}

// TestGoUpdatesAppliedByYjs gives the updates made by the Go API to real
// Yjs, which must build the same document.
func TestGoUpdatesAppliedByYjs(t *testing.T) {
	dir := yjsScripts(t)
	for seed := uint64(1); seed <= 12; seed++ {
		updates, final := goSession(seed)
		in := struct {
			Updates []string `json:"updates"`
			GC      bool     `json:"gc"`
		}{GC: true}
		for _, u := range updates {
			in.Updates = append(in.Updates, base64.StdEncoding.EncodeToString(u))
		}
		body, _ := json.Marshal(in)
		cmd := exec.Command("node", filepath.Join(dir, "apply.mjs"))
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("seed %d: yjs refused the updates: %v %s", seed, err, out)
		}
		var got struct {
			Text        string          `json:"text"`
			TextDelta   json.RawMessage `json:"textDelta"`
			Meta        json.RawMessage `json:"meta"`
			List        json.RawMessage `json:"list"`
			StateVector string          `json:"stateVector"`
			Pending     bool            `json:"pending"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if len(updates) < 20 || final.Text("content").Len() == 0 {
			t.Fatalf("seed %d: a session too small to test anything", seed)
		}
		if got.Pending {
			t.Errorf("seed %d: yjs is still waiting for something", seed)
		}
		if want := final.Text("content").String(); got.Text != want {
			t.Errorf("seed %d: yjs has %q, Go %q", seed, got.Text, want)
		}
		jsonEqual(t, "delta", final.Text("content").Delta(), got.TextDelta)
		jsonEqual(t, "meta", withBytes(final.Map("meta").JSON()), got.Meta)
		jsonEqual(t, "list", withBytes(final.Array("list").JSON()), got.List)
		if sv := base64.StdEncoding.EncodeToString(final.EncodeStateVector()); sv != got.StateVector {
			t.Errorf("seed %d: state vectors differ", seed)
		}
	}
}

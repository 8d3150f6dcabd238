// Package edittrace reads the real-world editing traces (the format of
// josephg/editing-traces) and converts their positions, which count Unicode
// code points, to the UTF-16 units Yjs counts. The ydoc tests and the
// scripts/crdtbench benchmark use it.
package edittrace

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"unicode/utf8"
)

// Patch is one edit: delete Del characters at Pos, then insert Ins there.
type Patch struct {
	Pos, Del int
	Ins      string
}

// UnmarshalJSON reads the trace's [pos, del, ins] triples.
func (p *Patch) UnmarshalJSON(b []byte) error {
	var a [3]json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(a[0], &p.Pos); err != nil {
		return err
	}
	if err := json.Unmarshal(a[1], &p.Del); err != nil {
		return err
	}
	return json.Unmarshal(a[2], &p.Ins)
}

// Trace is a sequential or concurrent trace.
type Trace struct {
	EndContent string `json:"endContent"`
	NumAgents  int    `json:"numAgents"`
	Txns       []Txn  `json:"txns"`
}

// Txn is one transaction: its parents (concurrent traces only), author
// and patches, applied in order.
type Txn struct {
	Parents []int   `json:"parents"`
	Agent   int     `json:"agent"`
	Patches []Patch `json:"patches"`
}

// Load reads a gzipped JSON trace.
func Load(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", path, err)
	}
	var t Trace
	if err := json.NewDecoder(z).Decode(&t); err != nil {
		return nil, fmt.Errorf("trace %s: %w", path, err)
	}
	return &t, nil
}

// Astral converts the code-point positions of one evolving text to UTF-16
// positions: a UTF-16 position is the code-point position plus the number
// of characters beyond the BMP before it. Those are rare, so their
// positions are kept in a sorted list. The zero value is an empty text.
type Astral struct{ at []int }

// AstralOf returns the converter for a text.
func AstralOf(s string) Astral {
	var a Astral
	i := 0
	for _, r := range s {
		if r >= 0x10000 {
			a.at = append(a.at, i)
		}
		i++
	}
	return a
}

func (a *Astral) before(pos int) int { return sort.SearchInts(a.at, pos) }

// Apply converts p to UTF-16 units and records its effect on the text.
func (a *Astral) Apply(p Patch) Patch {
	u := Patch{Pos: p.Pos + a.before(p.Pos), Ins: p.Ins}
	lo, hi := a.before(p.Pos), a.before(p.Pos+p.Del)
	u.Del = p.Del + hi - lo
	a.at = append(a.at[:lo], a.at[hi:]...)
	n := utf8.RuneCountInString(p.Ins)
	var added []int
	i := 0
	for _, r := range p.Ins {
		if r >= 0x10000 {
			added = append(added, p.Pos+i)
		}
		i++
	}
	for j := lo; j < len(a.at); j++ {
		a.at[j] += n - p.Del
	}
	a.at = append(a.at[:lo], append(added, a.at[lo:]...)...)
	return u
}

// Sequential returns every patch of a sequential trace in UTF-16 units.
func (t *Trace) Sequential() []Patch {
	var a Astral
	var out []Patch
	for _, txn := range t.Txns {
		for _, p := range txn.Patches {
			out = append(out, a.Apply(p))
		}
	}
	return out
}

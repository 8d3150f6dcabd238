package ydoc

import (
	"cmp"
	"slices"
)

type deleteRange struct{ clock, len uint64 }

// deleteSet lists deleted clock ranges per client.
type deleteSet map[uint64][]deleteRange

func (ds deleteSet) add(client, clock, n uint64) {
	ds[client] = append(ds[client], deleteRange{clock, n})
}

// sortAndMerge orders each client's ranges and joins overlapping or
// touching ones.
func (ds deleteSet) sortAndMerge() {
	for c, rs := range ds {
		slices.SortFunc(rs, func(a, b deleteRange) int { return cmp.Compare(a.clock, b.clock) })
		j := 1
		for i := 1; i < len(rs); i++ {
			l, r := rs[j-1], rs[i]
			if l.clock+l.len >= r.clock {
				rs[j-1].len = max(l.len, r.clock+r.len-l.clock)
			} else {
				rs[j] = r
				j++
			}
		}
		if len(rs) > 0 {
			ds[c] = rs[:j]
		}
	}
}

// contains reports whether id is deleted in ds (sorted and merged).
func (ds deleteSet) contains(id ID) bool {
	rs := ds[id.Client]
	i, _ := slices.BinarySearchFunc(rs, id.Clock, func(r deleteRange, c uint64) int {
		switch {
		case r.clock+r.len <= c:
			return -1
		case r.clock > c:
			return 1
		}
		return 0
	})
	return i < len(rs) && rs[i].clock <= id.Clock && id.Clock < rs[i].clock+rs[i].len
}

func (ds deleteSet) write(e *encoder) {
	n := 0
	for _, rs := range ds {
		if len(rs) > 0 {
			n++
		}
	}
	e.uvarint(uint64(n))
	for _, c := range sortedClients(ds) {
		rs := ds[c]
		if len(rs) == 0 {
			continue
		}
		e.uvarint(c)
		e.uvarint(uint64(len(rs)))
		for _, r := range rs {
			e.uvarint(r.clock)
			e.uvarint(r.len)
		}
	}
}

func readDeleteSet(d *decoder) (deleteSet, error) {
	n, err := d.length()
	if err != nil {
		return nil, err
	}
	ds := make(deleteSet, capHint(n))
	for range n {
		c, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		m, err := d.length()
		if err != nil {
			return nil, err
		}
		for range m {
			clock, err := d.uvarint()
			if err != nil {
				return nil, err
			}
			l, err := d.uvarint()
			if err != nil {
				return nil, err
			}
			if l == 0 {
				continue
			}
			ds.add(c, clock, l)
		}
	}
	return ds, nil
}

// deleteSetFromStore lists every deleted struct of the store.
func deleteSetFromStore(s *structStore) deleteSet {
	ds := make(deleteSet)
	for c, structs := range s.clients {
		var rs []deleteRange
		for i := 0; i < len(structs); i++ {
			it := structs[i]
			if !it.isDeleted() {
				continue
			}
			n := uint64(it.length)
			for i+1 < len(structs) && structs[i+1].isDeleted() {
				i++
				n += uint64(structs[i].length)
			}
			rs = append(rs, deleteRange{it.id.Clock, n})
		}
		if len(rs) > 0 {
			ds[c] = rs
		}
	}
	return ds
}

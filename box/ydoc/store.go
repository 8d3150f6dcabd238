package ydoc

import (
	"cmp"
	"slices"
)

// structStore holds every struct of a document, per client, ordered by
// clock without gaps: the clock of each is the previous one's clock plus
// its length.
type structStore struct {
	clients map[uint64][]*item
}

func newStructStore() *structStore { return &structStore{clients: make(map[uint64][]*item)} }

// state is the next clock expected from client.
func (s *structStore) state(client uint64) uint64 {
	structs := s.clients[client]
	if len(structs) == 0 {
		return 0
	}
	last := structs[len(structs)-1]
	return last.id.Clock + uint64(last.length)
}

// StateVector maps each client to the next clock expected from it.
type StateVector map[uint64]uint64

func (s *structStore) stateVector() StateVector {
	sv := make(StateVector, len(s.clients))
	for c := range s.clients {
		sv[c] = s.state(c)
	}
	return sv
}

func (s *structStore) add(it *item) {
	s.clients[it.id.Client] = append(s.clients[it.id.Client], it)
}

// findIndex returns the index of the struct holding clock. The caller has
// checked that clock is below the client's state.
func findIndex(structs []*item, clock uint64) int {
	lo, hi := 0, len(structs)-1
	last := structs[hi]
	if last.id.Clock == clock {
		return hi
	}
	// Guess by proportion first: clocks are dense, so the guess is often
	// right.
	end := last.id.Clock + uint64(last.length)
	mid := int(clock * uint64(hi) / max(end-1, 1))
	for lo <= hi {
		if mid < lo || mid > hi {
			mid = (lo + hi) / 2
		}
		m := structs[mid]
		switch {
		case m.id.Clock <= clock && clock < m.id.Clock+uint64(m.length):
			return mid
		case m.id.Clock <= clock:
			lo = mid + 1
		default:
			hi = mid - 1
		}
		mid = (lo + hi) / 2
	}
	panic("ydoc: clock not in the struct store")
}

func (s *structStore) find(id ID) *item {
	structs := s.clients[id.Client]
	return structs[findIndex(structs, id.Clock)]
}

// has reports whether the store holds id.
func (s *structStore) has(id ID) bool { return id.Clock < s.state(id.Client) }

// findCleanStart returns the index of the struct starting exactly at clock,
// splitting the item that holds it if needed.
func (s *structStore) findCleanStart(tx *Transaction, client, clock uint64) int {
	structs := s.clients[client]
	i := findIndex(structs, clock)
	it := structs[i]
	if it.id.Clock < clock && it.kind == kindItem {
		r := it.split(tx, int(clock-it.id.Clock))
		s.clients[client] = slices.Insert(structs, i+1, r)
		return i + 1
	}
	return i
}

func (s *structStore) getCleanStart(tx *Transaction, id ID) *item {
	i := s.findCleanStart(tx, id.Client, id.Clock)
	return s.clients[id.Client][i]
}

// getCleanEnd returns the struct ending exactly at id, splitting if needed.
func (s *structStore) getCleanEnd(tx *Transaction, id ID) *item {
	structs := s.clients[id.Client]
	i := findIndex(structs, id.Clock)
	it := structs[i]
	if id.Clock != it.id.Clock+uint64(it.length)-1 && it.kind == kindItem {
		r := it.split(tx, int(id.Clock-it.id.Clock)+1)
		s.clients[id.Client] = slices.Insert(structs, i+1, r)
	}
	return it
}

// sortedClients returns the client IDs of sv, highest first, the order Yjs
// writes them in.
func sortedClients[V any](m map[uint64]V) []uint64 {
	cs := make([]uint64, 0, len(m))
	for c := range m {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b uint64) int { return cmp.Compare(b, a) })
	return cs
}

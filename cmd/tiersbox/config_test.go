package main

import "testing"

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1GiB", 1 << 30, true},
		{"500MB", 500e6, true},
		{"1.5 GiB", 3 << 29, true},
		{"2048", 2048, true},
		{"10KiB", 10 << 10, true},
		{"-1GB", 0, false},
		{"un giga", 0, false},
		{"", 0, false},
		{"1e30TB", 0, false},
	}
	for _, tt := range tests {
		var s size
		err := s.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && s.Bytes != tt.want) {
			t.Errorf("%q: %d, %v; want %d (ok %v)", tt.in, s.Bytes, err, tt.want, tt.ok)
		}
	}
}

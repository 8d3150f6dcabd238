package link

import (
	"errors"
	"testing"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

func TestAddValidates(t *testing.T) {
	self := protocol.DeviceID{1}
	l := openLinks(t, self)
	tests := []struct {
		name string
		d    Device
		want error
	}{
		{"self", Device{ID: self}, ErrSelf},
		{"address without port", Device{ID: protocol.DeviceID{2}, Addresses: []string{"tcp://box"}}, ErrAddress},
		{"address with a path", Device{ID: protocol.DeviceID{2}, Addresses: []string{"tcp://box:22000/x"}}, ErrAddress},
		{"udp", Device{ID: protocol.DeviceID{2}, Addresses: []string{"udp://box:22000"}}, ErrAddress},
		{"control character in name", Device{ID: protocol.DeviceID{2}, Name: "a\x07b"}, ErrName},
		{"negative rate", Device{ID: protocol.DeviceID{2}, MaxRate: -1}, ErrRate},
		{"good", Device{ID: protocol.DeviceID{2}, Name: " Fablab ", Addresses: []string{"192.0.2.1:22000"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := l.Add(tt.d)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err == nil && (d.Name != "Fablab" || d.Addresses[0] != "tcp://192.0.2.1:22000") {
				t.Fatalf("stored %+v", d)
			}
		})
	}
}

// TestSeenKept: when a device was last seen and what it carried outlive
// a new Add of the same device.
func TestSeenKept(t *testing.T) {
	l := openLinks(t, protocol.DeviceID{1})
	id := protocol.DeviceID{3}
	l.Add(Device{ID: id, Name: "Médiathèque"})
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	if err := l.Seen(id, at, 100, 50); err != nil {
		t.Fatal(err)
	}
	l.Seen(id, at.Add(time.Hour), 1, 2)
	l.Add(Device{ID: id, Addresses: []string{"tcp://192.0.2.9:22000"}})
	d, ok, err := l.Get(id)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if !d.LastSeen.Equal(at.Add(time.Hour)) || d.InBytes != 101 || d.OutBytes != 52 || d.Name != "Médiathèque" {
		t.Fatalf("got %+v", d)
	}
	// An unlinked device is not recorded.
	if err := l.Seen(protocol.DeviceID{4}, at, 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Get(protocol.DeviceID{4}); ok {
		t.Fatal("Seen linked a device")
	}
}

package bep

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/journal"
	"tiersbox/internal/stockpeer"
	"tiersbox/sync/link"
)

// TestStockSyncthing links a box to a stock Syncthing sharing both
// folders: it receives the journal and the drive byte for byte, a file it
// gets arrives at the box, and removals go both ways.
func TestStockSyncthing(t *testing.T) {
	box := newTestBox(t, "box")
	for i := range 30 {
		box.j.Append(journalDraft(fmt.Sprintf("message %d", i)))
	}
	os.WriteFile(filepath.Join(box.drive, "programme.txt"), []byte("Atelier vélo à 14 h\n"), 0o644)
	big := bytes.Repeat([]byte("tiers-lieu "), 50_000)
	os.MkdirAll(filepath.Join(box.drive, "ateliers"), 0o755)
	os.WriteFile(filepath.Join(box.drive, "ateliers", "compte-rendu.bin"), big, 0o644)
	box.node.DriveChanged()

	stock := stockpeer.Start(t, box.id.DeviceID, "", FolderJournal, FolderDrive)
	if _, err := box.links.Add(link.Device{ID: stock.ID, Name: "stock", Addresses: []string{"tcp://" + stock.Listen}}); err != nil {
		t.Fatal(err)
	}
	jdir, ddir := filepath.Join(stock.Folder, FolderJournal), filepath.Join(stock.Folder, FolderDrive)

	// Both folders arrive byte for byte.
	waitFor(t, "the stock peer to complete both folders", 60*time.Second, func() bool {
		return stock.Completion(FolderJournal, stock.ID) == 100 && stock.Completion(FolderDrive, stock.ID) == 100 &&
			fileEquals(filepath.Join(ddir, "ateliers", "compte-rendu.bin"), big)
	})
	_, _, files := box.node.jIdx.snapshot()
	segments := 0
	for name, e := range files {
		f := e.info(name)
		if f.IsDirectory() {
			continue
		}
		segments++
		o, first, _ := parseSegmentName(name)
		want, err := box.node.jf.readAt(name, 0, int(f.Size))
		if err != nil {
			t.Fatal(err)
		}
		if !fileEquals(filepath.Join(jdir, filepath.FromSlash(name)), want) {
			t.Fatalf("the stock copy of segment %v/%d differs", o, first)
		}
	}
	if segments == 0 {
		t.Fatal("no journal segment announced")
	}
	if !fileEquals(filepath.Join(ddir, "programme.txt"), []byte("Atelier vélo à 14 h\n")) {
		t.Fatal("programme.txt differs at the stock peer")
	}
	// The box sees the stock peer as in sync too.
	waitFor(t, "the stock peer to see the box complete", 30*time.Second, func() bool {
		return stock.Completion(FolderDrive, box.id.DeviceID) == 100 && stock.Completion(FolderJournal, box.id.DeviceID) == 100
	})

	// A file added at the stock peer arrives at the box.
	os.WriteFile(filepath.Join(ddir, "affiche.txt"), []byte("Fête du quartier\n"), 0o644)
	stock.Scan(t, FolderDrive)
	expect(t, box.hooks.arrived, "affiche.txt")
	if !fileEquals(filepath.Join(box.drive, "affiche.txt"), []byte("Fête du quartier\n")) {
		t.Fatal("affiche.txt differs at the box")
	}

	// Removed at the stock peer: removed at the box.
	os.Remove(filepath.Join(ddir, "programme.txt"))
	stock.Scan(t, FolderDrive)
	expect(t, box.hooks.departed, "programme.txt")
	if _, err := os.Stat(filepath.Join(box.drive, "programme.txt")); !os.IsNotExist(err) {
		t.Fatalf("programme.txt still at the box: %v", err)
	}

	// Removed at the box: removed at the stock peer.
	os.Remove(filepath.Join(box.drive, "affiche.txt"))
	box.node.DriveChanged()
	waitFor(t, "the stock peer to remove affiche.txt", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(ddir, "affiche.txt"))
		return os.IsNotExist(err)
	})

	// New journal entries keep flowing.
	box.j.Append(journalDraft("encore"))
	waitFor(t, "the stock peer to take the new entry", 30*time.Second, func() bool {
		_, _, files := box.node.jIdx.snapshot()
		for name, e := range files {
			if f := e.info(name); !f.IsDirectory() && f.Version.Counter(shortOf(box.j.Origin())) == 31 {
				want, _ := box.node.jf.readAt(name, 0, int(f.Size))
				return fileEquals(filepath.Join(jdir, filepath.FromSlash(name)), want)
			}
		}
		return false
	})
}

func fileEquals(path string, want []byte) bool {
	got, err := os.ReadFile(path)
	return err == nil && bytes.Equal(got, want)
}

func expect(t *testing.T, c chan string, want string) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %q", want)
	}
}

// TestStockSyncthingAsHub: boxes A and C are never linked to each other,
// only to the same stock Syncthing; each gets the other's journal and
// drive through it.
func TestStockSyncthingAsHub(t *testing.T) {
	a, c := newTestBox(t, "a"), newTestBox(t, "c")
	hub := stockpeer.StartHub(t, []protocol.DeviceID{a.id.DeviceID, c.id.DeviceID}, "", FolderJournal, FolderDrive)
	for _, b := range []*testBox{a, c} {
		if _, err := b.links.Add(link.Device{ID: hub.ID, Name: "hub", Addresses: []string{"tcp://" + hub.Listen}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		a.j.Append(journalDraft(fmt.Sprintf("from a %d", i)))
		c.j.Append(journalDraft(fmt.Sprintf("from c %d", i)))
	}
	os.WriteFile(filepath.Join(a.drive, "de-a.txt"), []byte("écrit à A"), 0o644)
	os.WriteFile(filepath.Join(c.drive, "de-c.txt"), []byte("écrit à C"), 0o644)
	a.node.DriveChanged()
	c.node.DriveChanged()
	waitFor(t, "A and C to hold each other's work through the hub", 90*time.Second, func() bool { return converged(t, a, c) })
	if heads(t, c)[a.j.Origin()] != 20 || heads(t, a)[c.j.Origin()] != 20 {
		t.Fatal("journals incomplete")
	}

	// An erasure at A reaches C through the hub: the stock Syncthing
	// takes the blanked segment as a newer version of the file.
	if _, err := a.j.Append(journal.EraseDrafts("", []journal.Ref{{Origin: a.j.Origin(), Seq: 3}})...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the erasure at C through the hub", 90*time.Second, func() bool {
		e, ok, err := c.j.Get(journal.Ref{Origin: a.j.Origin(), Seq: 3})
		return err == nil && ok && e.Erased
	})
	waitFor(t, "identical journals after the erasure", 30*time.Second, func() bool { return converged(t, a, c) })
}

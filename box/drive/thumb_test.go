package drive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// picture is a w × h image: red on its left half, blue on its right, so
// that a turned thumbnail shows.
func picture(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 255, A: 255}
			if x >= w/2 {
				c = color.NRGBA{B: 255, A: 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image, orientation int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if orientation == 0 {
		return b
	}
	// An APP1 Exif segment right after SOI, big-endian TIFF, one IFD
	// entry: orientation.
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	tiff[19] = byte(orientation) // the value, a big-endian SHORT
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, b[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, b[2:]...)
}

func encodeGIF(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hugePNG is a PNG whose header declares w × h pixels, without the data:
// enough for DecodeConfig, which must refuse it before any decoding.
func hugePNG(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(c, typ...)
		c = append(c, data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8 bits, RGBA
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

func TestThumbnail(t *testing.T) {
	webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		content    []byte
		w, h       int  // thumbnail size
		leftIsRed  bool // the left edge is red, the right blue (else the other way)
		topIsRed   bool // the top edge is red, the bottom blue (instead of left and right)
		noThumb    bool
		wantInType string
	}{
		{name: "wide.png", content: encodePNG(t, picture(1000, 500)), w: 320, h: 160, leftIsRed: true},
		{name: "tall.png", content: encodePNG(t, picture(300, 900)), w: 106, h: 320, leftIsRed: true},
		{name: "small.png", content: encodePNG(t, picture(40, 30)), w: 40, h: 30, leftIsRed: true},
		{name: "photo.jpg", content: encodeJPEG(t, picture(640, 480), 0), w: 320, h: 240, leftIsRed: true},
		// Taken with the phone turned: the thumbnail stands upright.
		{name: "turned.jpg", content: encodeJPEG(t, picture(640, 480), 6), w: 240, h: 320, topIsRed: true},
		{name: "mirrored.jpg", content: encodeJPEG(t, picture(640, 480), 2), w: 320, h: 240},
		{name: "anim.gif", content: encodeGIF(t, picture(400, 100)), w: 320, h: 80, leftIsRed: true},
		{name: "misnamed.jpg", content: encodePNG(t, picture(100, 100)), w: 100, h: 100, leftIsRed: true, wantInType: "image/png"},
		{name: "pic.webp", content: webp, w: 150, h: 100},
		{name: "bomb.png", content: hugePNG(30000, 30000), noThumb: true},
		{name: "wide-bomb.png", content: hugePNG(1<<20, 60), noThumb: true},
		{name: "zero.png", content: hugePNG(0, 10), noThumb: true},
		{name: "broken.png", content: encodePNG(t, picture(100, 100))[:200], noThumb: true},
		{name: "doc.pdf", content: []byte("%PDF-1.4 not an image"), noThumb: true},
		{name: "fake.png", content: []byte("plain text named .png"), noThumb: true},
	}
	b := openBox(t, t.TempDir(), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := b.svc.Upload(context.Background(), UploadRequest{Name: tt.name}, bytes.NewReader(tt.content))
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantInType != "" && f.ContentType != tt.wantInType {
				t.Errorf("content type %s", f.ContentType)
			}
			path, err := b.svc.Thumbnail(f.Path)
			if tt.noThumb {
				if !errors.Is(err, ErrNoThumbnail) {
					t.Fatalf("Thumbnail: %q, %v; want ErrNoThumbnail", path, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if path != filepath.Join(b.thumb(), f.SHA256+".jpg") {
				t.Errorf("thumbnail at %s", path)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds().Size(); got != image.Pt(tt.w, tt.h) {
				t.Errorf("thumbnail of %v, want %d × %d", got, tt.w, tt.h)
			}
			if tt.name == "pic.webp" {
				return
			}
			red := func(x, y int) bool {
				r, _, b, _ := img.At(x, y).RGBA()
				return r > 0xc000 && b < 0x4000
			}
			blue := func(x, y int) bool {
				r, _, b, _ := img.At(x, y).RGBA()
				return b > 0xc000 && r < 0x4000
			}
			w, h := tt.w, tt.h
			switch {
			case tt.topIsRed:
				if !red(w/2, 2) || !blue(w/2, h-3) {
					t.Errorf("top and bottom edges are not red and blue")
				}
			case tt.leftIsRed:
				if !red(2, h/2) || !blue(w-3, h/2) {
					t.Errorf("left and right edges are not red and blue")
				}
			default:
				if !blue(2, h/2) || !red(w-3, h/2) {
					t.Errorf("left and right edges are not blue and red")
				}
			}
			// Made once: the second request finds it.
			st1, _ := os.Stat(path)
			again, err := b.svc.Thumbnail(f.Path)
			st2, _ := os.Stat(again)
			if err != nil || again != path || !st1.ModTime().Equal(st2.ModTime()) {
				t.Errorf("second request: %s, %v", again, err)
			}
		})
	}
	if _, err := b.svc.Thumbnail("nope.png"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Thumbnail of an unknown file: %v", err)
	}
	for _, name := range dirEntries(t, b.thumb()) {
		if filepath.Ext(name) != ".jpg" {
			t.Errorf("left in the thumbnail folder: %s", name)
		}
	}
}

// TestThumbnailRemoved: a removed photo's thumbnail goes with it, unless
// another file has the same content; the start sweeps orphans.
func TestThumbnailRemoved(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	img := encodePNG(t, picture(50, 50))
	f1, _ := b.svc.Upload(context.Background(), UploadRequest{Name: "a.png"}, bytes.NewReader(img))
	f2, _ := b.svc.Upload(context.Background(), UploadRequest{Name: "b.png"}, bytes.NewReader(img))
	path, err := b.svc.Thumbnail(f1.Path)
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := b.svc.Thumbnail(f2.Path); p2 != path {
		t.Errorf("same content, two thumbnails: %s %s", path, p2)
	}
	b.svc.Remove(f1.Path, "staff")
	if _, err := os.Stat(path); err != nil {
		t.Errorf("thumbnail still used by %s was removed", f2.Path)
	}
	b.svc.Remove(f2.Path, "staff")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("thumbnail of removed photos kept: %v", err)
	}
	os.WriteFile(filepath.Join(b.thumb(), sum("gone")+".jpg"), []byte("orphan"), 0o600)
	os.WriteFile(filepath.Join(b.thumb(), "thumb-1.tmp"), []byte("torn"), 0o600)
	b = b.reopen(t)
	if left := dirEntries(t, b.thumb()); len(left) != 0 {
		t.Errorf("thumbnail folder holds %v", left)
	}
}

func TestExifOrientation(t *testing.T) {
	for o := 1; o <= 8; o++ {
		if got := exifOrientation(bytes.NewReader(encodeJPEG(t, picture(8, 8), o))); got != o {
			t.Errorf("orientation %d read as %d", o, got)
		}
	}
	for _, b := range [][]byte{nil, []byte("\xff\xd8"), []byte("\xff\xd8\xff\xe1\x00\x01"), encodeJPEG(t, picture(8, 8), 0), encodePNG(t, picture(2, 2))} {
		if got := exifOrientation(bytes.NewReader(b)); got != 1 {
			t.Errorf("%q: orientation %d", b, got)
		}
	}
	// Little-endian TIFF.
	tiff := []byte("II\x2a\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x08\x00\x00\x00")
	if got := tiffOrientation(tiff); got != 8 {
		t.Errorf("little-endian orientation %d", got)
	}
}

func TestOrient(t *testing.T) {
	// A 3 × 2 image with distinct pixels, turned each way, against where
	// each pixel must land.
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range src.Pix {
		src.Pix[i] = byte(i / 4)
	}
	at := func(img *image.RGBA, x, y int) byte { return img.Pix[img.PixOffset(x, y)] }
	// want[o] lists the source pixel index (y*3+x) at each destination
	// pixel, row by row.
	want := map[int][]byte{
		1: {0, 1, 2, 3, 4, 5},
		2: {2, 1, 0, 5, 4, 3},
		3: {5, 4, 3, 2, 1, 0},
		4: {3, 4, 5, 0, 1, 2},
		5: {0, 3, 1, 4, 2, 5},
		6: {3, 0, 4, 1, 5, 2},
		7: {5, 2, 4, 1, 3, 0},
		8: {2, 5, 1, 4, 0, 3},
	}
	for o, w := range want {
		dst := orient(src, o)
		var got []byte
		for y := range dst.Bounds().Dy() {
			for x := range dst.Bounds().Dx() {
				got = append(got, at(dst, x, y))
			}
		}
		if !bytes.Equal(got, w) {
			t.Errorf("orientation %d: %v, want %v", o, got, w)
		}
	}
}

// FuzzExifOrientation: whatever a JPEG's first segments hold, reading the
// orientation returns 1 to 8 and never panics.
func FuzzExifOrientation(f *testing.F) {
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x24Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II\x2a\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o := exifOrientation(bytes.NewReader(b)); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

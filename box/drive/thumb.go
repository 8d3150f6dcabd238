package drive

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders for image.Decode
	"image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
)

// ThumbnailSize is the longest side of a thumbnail, in pixels.
const ThumbnailSize = 320

// Limits on the pictures Thumbnail decodes. A small file can declare a
// huge picture (a PNG of 30,000 × 30,000 plain pixels compresses to a few
// megabytes), and decoding allocates all of it: on a Raspberry Pi that
// would take the box down. Photos from phones (12 to 50 megapixels) pass.
const (
	maxThumbPixels = 50_000_000
	maxThumbBytes  = 256 << 20 // the decoded picture's estimated memory
)

var thumbTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// Thumbnail returns the path of a JPEG thumbnail of the image at path, at
// most ThumbnailSize pixels on its longest side, made on the first request
// and kept in ThumbDir under the image's SHA-256 (files with the same
// content share one). JPEG photos are turned as their EXIF orientation
// says. Files that are not JPEG, PNG, GIF or WebP images, that do not
// decode, or whose picture is too large to decode safely, return
// ErrNoThumbnail.
//
// Thumbnails are made one at a time, so that many requests at once cannot
// multiply the memory a decode takes.
func (s *Service) Thumbnail(path string) (string, error) {
	f, err := s.Stat(path)
	if err != nil {
		return "", err
	}
	if !thumbTypes[strings.SplitN(f.ContentType, ";", 2)[0]] {
		return "", fmt.Errorf("%w: %s is %s", ErrNoThumbnail, path, f.ContentType)
	}
	out := s.thumbPath(f.SHA256)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	s.thumbMu.Lock()
	defer s.thumbMu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out, nil // made while this request waited
	}
	src, f, err := s.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	img, err := decodeBounded(src)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNoThumbnail, path, err)
	}
	thumb := scaleDown(img, ThumbnailSize)
	if f.ContentType == "image/jpeg" {
		if _, err := src.Seek(0, io.SeekStart); err == nil {
			thumb = orient(thumb, exifOrientation(bufio.NewReader(src)))
		}
	}
	if err := writeJPEG(out, thumb); err != nil {
		return "", fmt.Errorf("drive: thumbnail of %s: %w", path, err)
	}
	return out, nil
}

func (s *Service) thumbPath(sum string) string { return filepath.Join(s.thumbDir, sum+".jpg") }

// decodeBounded decodes an image after checking, from its header, that it
// is not too large to hold in memory. Decoders of hostile files are
// contained: a panic is an error.
func decodeBounded(r io.ReadSeeker) (img image.Image, err error) {
	cfg, _, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		return nil, err
	}
	if err := checkSize(cfg); err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	img, _, err = image.Decode(bufio.NewReader(r))
	if err == nil && img.Bounds().Dx()*img.Bounds().Dy() > cfg.Width*cfg.Height {
		return nil, errors.New("picture larger than its header says")
	}
	return img, err
}

func checkSize(cfg image.Config) error {
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return fmt.Errorf("picture of %d × %d pixels", w, h)
	}
	if w*h > maxThumbPixels {
		return fmt.Errorf("picture of %d × %d pixels is too large", w, h)
	}
	if w*h*bytesPerPixel(cfg.ColorModel) > maxThumbBytes {
		return fmt.Errorf("picture of %d × %d pixels takes too much memory", w, h)
	}
	return nil
}

// bytesPerPixel estimates what one decoded pixel takes in the color model.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

// scaleDown fits img within side × side pixels, on white (a JPEG has no
// transparency), with a filter that averages the pixels it drops.
func scaleDown(img image.Image, side int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > side || h > side {
		if w >= h {
			w, h = side, max(1, h*side/b.Dx())
		} else {
			w, h = max(1, w*side/b.Dy()), side
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Over, nil)
	return dst
}

// writeJPEG writes the thumbnail under a temporary name, synced, then
// renames it, so that a crash never leaves a torn thumbnail to serve.
func writeJPEG(out string, img image.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), "thumb-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	err = jpeg.Encode(w, img, &jpeg.Options{Quality: 80})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// removeThumbnail deletes the thumbnail of content sum, unless a listed
// file has that content (two files can share one).
func (s *Service) removeThumbnail(sum string) {
	if !validSHA256(sum) {
		return
	}
	used, err := s.contentListed(sum)
	if err != nil || used {
		return
	}
	if err := os.Remove(s.thumbPath(sum)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.logger.Warn("removing a thumbnail", "error", err)
	}
}

func (s *Service) contentListed(sum string) (bool, error) {
	all, err := s.ListAll(ListOptions{Hidden: true})
	if err != nil {
		return false, err
	}
	for _, f := range all {
		if f.SHA256 == sum {
			return true, nil
		}
	}
	return false, nil
}

// sweepThumbnails deletes the thumbnails of content no listed file has
// (a crash after a removal), and temporary files a crash left.
func (s *Service) sweepThumbnails() {
	entries, err := os.ReadDir(s.thumbDir)
	if err != nil {
		s.logger.Warn("reading the thumbnails", "error", err)
		return
	}
	if len(entries) == 0 {
		return // nothing to sweep: no need to read every file's details
	}
	all, err := s.ListAll(ListOptions{Hidden: true})
	if err != nil {
		s.logger.Warn("reading the drive", "error", err)
		return
	}
	listed := make(map[string]bool, len(all))
	for _, f := range all {
		listed[f.SHA256+".jpg"] = true
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			os.Remove(filepath.Join(s.thumbDir, e.Name()))
		}
	}
}

// exifOrientation reads the EXIF orientation (1 to 8) of a JPEG file,
// or returns 1 (as stored) when it has none or it cannot be read.
func exifOrientation(r io.Reader) int {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil || hdr[0] != 0xff || hdr[1] != 0xd8 {
		return 1
	}
	// The orientation is in an APP1 segment near the start: look at a
	// few segments, up to the image data.
	for range 16 {
		if _, err := io.ReadFull(r, hdr[:4]); err != nil || hdr[0] != 0xff {
			return 1
		}
		marker, n := hdr[1], int(binary.BigEndian.Uint16(hdr[2:]))-2
		if marker == 0xda || n < 0 {
			return 1
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(r, seg); err != nil {
			return 1
		}
		if marker == 0xe1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
	}
	return 1
}

// tiffOrientation reads tag 0x0112 of the first IFD of a TIFF structure.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(b[2:]) != 42 {
		return 1
	}
	off := int64(bo.Uint32(b[4:]))
	if off+2 > int64(len(b)) {
		return 1
	}
	count := int64(bo.Uint16(b[off:]))
	for i := range count {
		e := off + 2 + 12*i
		if e+12 > int64(len(b)) {
			return 1
		}
		if bo.Uint16(b[e:]) == 0x0112 && bo.Uint16(b[e+2:]) == 3 { // orientation, SHORT
			if v := int(bo.Uint16(b[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}

// orient turns img as an EXIF orientation says the camera held it, so
// that the thumbnail stands the right way up.
func orient(img *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range h {
		for x := range w {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // upside down
				dx, dy = w-1-x, h-1-y
			case 4: // upside down, mirrored
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // turned left when taken: turn right
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // turned right when taken: turn left
				dx, dy = y, w-1-x
			}
			i, j := img.PixOffset(b.Min.X+x, b.Min.Y+y), dst.PixOffset(dx, dy)
			copy(dst.Pix[j:j+4], img.Pix[i:i+4])
		}
	}
	return dst
}

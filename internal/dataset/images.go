package dataset

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/image/draw"
)

// Image folders
//
// An image folder is the torchvision ImageFolder layout: ROOT/CLASS/IMAGE.png|jpg|jpeg, one
// subfolder per class (images may sit deeper inside a class folder). Classes are sorted by name
// and numbered from 0, which gives the labels; samples come class by class, and within a class in
// file-name order (torchvision's order). Empty class folders keep their label, so a test set that
// lacks a class still numbers the others as the training set did. Hidden files and folders and
// macOS's __MACOSX are skipped, as are files with other extensions. A folder that only wraps the
// class folders (an archive's single top folder: digits/0/a.png) is looked through. Formats are
// recognised by content: 8- and 16-bit (high byte kept) PNG, gray, RGB, paletted or with alpha;
// baseline and progressive JPEG, gray, YCbCr or CMYK.
//
// Every image is decoded when the folder is loaded (a broken file fails the load and is named),
// and kept in memory as 8-bit pixels (gray, or RGB with any alpha dropped, as PIL's
// convert("RGB") does), so the dataset can later be rendered at any model's input shape:
//
//   - Load(dir, WithShape([]int{C,H,W})) renders at the model's shape while loading;
//   - without WithShape the samples take the images' own size ([C,H,W], channels first, C = 1
//     when every image is grayscale, else 3; with mixed sizes, the most common size), and a later
//     Fit with the model's per-sample shape re-renders them from the originals.
//
// Rendering converts RGB to gray by ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, PIL's "L") or
// gray to RGB by repeating the value, then resizes bilinearly to H×W, stretching (no crop, no
// aspect-preserving pad) with golang.org/x/image/draw.BiLinear, a tent filter widened when
// shrinking (antialiased, like PIL's resize(BILINEAR)), rounded to 8 bits. Pixel values
// stay raw 0..255 float32 unless a Normalization is given; Dataset.Images records the shape,
// layout, how many images were resized or converted, and the normalisation, for reports.

// Limits on what an image folder may hold; WithImageLimits changes them.
const (
	// DefaultMaxImagePixels refuses any single image larger than 64 Mpixel before decoding it
	// (decompression bombs: a small PNG or JPEG can announce an enormous canvas).
	DefaultMaxImagePixels = 64 << 20
	// DefaultMaxImageBytes bounds the decoded 8-bit pixels a folder may hold in memory (1 GiB).
	DefaultMaxImageBytes = 1 << 30
)

// ErrImageTooLarge marks an image, or an image folder, beyond the limits.
var ErrImageTooLarge = errors.New("image too large")

// Normalization maps raw pixel values v (0..255) to (v·Scale − Mean[c]) / Std[c] for channel c.
// The zero value leaves them raw. Mean and Std hold one value for every channel or one per
// channel; Scale 0 means 1.
type Normalization struct {
	Scale float32   `json:"scale,omitempty"`
	Mean  []float32 `json:"mean,omitempty"`
	Std   []float32 `json:"std,omitempty"`
}

// UnitScale maps pixels to 0..1 (x/255).
func UnitScale() Normalization { return Normalization{Scale: 1.0 / 255} }

// ImageNetNorm is torchvision's usual ImageNet normalisation: x/255, then per RGB channel
// mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
func ImageNetNorm() Normalization {
	return Normalization{Scale: 1.0 / 255, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
}

// IsZero reports whether n leaves values unchanged.
func (n Normalization) IsZero() bool {
	return (n.Scale == 0 || n.Scale == 1) && allEqual(n.Mean, 0) && allEqual(n.Std, 1)
}

func allEqual(v []float32, x float32) bool {
	for _, e := range v {
		if e != x {
			return false
		}
	}
	return true
}

// String states the normalisation for a report: "none (raw pixel values 0..255)", "x/255", or
// "(x/255 - mean) / std, mean [0.485 0.456 0.406], std [0.229 0.224 0.225]".
func (n Normalization) String() string {
	if n.IsZero() {
		return "none (raw pixel values 0..255)"
	}
	x := "x"
	switch s := n.Scale; {
	case s == 0 || s == 1:
	case math.Abs(float64(s)*255-1) < 1e-6:
		x = "x/255"
	case s > 0 && s < 1 && math.Abs(1/float64(s)-math.Round(1/float64(s))) < 1e-4:
		x = "x/" + strconv.FormatFloat(math.Round(1/float64(s)), 'g', -1, 64)
	default:
		x = "x*" + strconv.FormatFloat(float64(s), 'g', -1, 32)
	}
	mean, std := !allEqual(n.Mean, 0), !allEqual(n.Std, 1)
	var b strings.Builder
	switch {
	case mean && std:
		fmt.Fprintf(&b, "(%s - mean) / std", x)
	case mean:
		fmt.Fprintf(&b, "%s - mean", x)
	case std:
		fmt.Fprintf(&b, "%s / std", x)
	default:
		b.WriteString(x)
	}
	if mean {
		fmt.Fprintf(&b, ", mean %v", n.Mean)
	}
	if std {
		fmt.Fprintf(&b, ", std %v", n.Std)
	}
	return b.String()
}

// Validate checks the normalisation against the number of channels it will see (0: any).
func (n Normalization) Validate(channels int) error {
	if bad(n.Scale) || n.Scale < 0 {
		return fmt.Errorf("normalisation scale %v must be a positive number", n.Scale)
	}
	for _, l := range []struct {
		name string
		v    []float32
	}{{"mean", n.Mean}, {"std", n.Std}} {
		if len(l.v) > 1 && channels > 0 && len(l.v) != channels {
			return fmt.Errorf("normalisation has %d %s values but the samples have %d channel(s); give one value or one per channel", len(l.v), l.name, channels)
		}
		for _, v := range l.v {
			if bad(v) || (l.name == "std" && v == 0) {
				return fmt.Errorf("normalisation %s %v: values must be finite numbers (std non-zero)", l.name, l.v)
			}
		}
	}
	return nil
}

func bad(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }

// ParseNormalization reads a normalisation as a user writes it: "none", "unit" (x/255),
// "imagenet", or settings separated by spaces or semicolons, lists by commas:
// "scale=1/255 mean=0.5 std=0.5", "scale=0.00392;mean=0.485,0.456,0.406;std=0.229,0.224,0.225".
func ParseNormalization(s string) (Normalization, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "raw":
		return Normalization{}, nil
	case "unit", "1/255", "x/255":
		return UnitScale(), nil
	case "imagenet":
		return ImageNetNorm(), nil
	}
	var n Normalization
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ';' || r == '\t' }) {
		key, val, ok := strings.Cut(item, "=")
		if !ok {
			return Normalization{}, fmt.Errorf("normalisation %q: %q is not key=value (use none, unit, imagenet or scale=1/255 mean=M std=S)", s, item)
		}
		switch strings.ToLower(key) {
		case "scale":
			v, err := parseRatio(val)
			if err != nil {
				return Normalization{}, fmt.Errorf("normalisation %q: scale %q: %v", s, val, err)
			}
			n.Scale = v
		case "mean", "std":
			var list []float32
			for _, f := range strings.Split(strings.Trim(val, "[]()"), ",") {
				v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
				if err != nil {
					return Normalization{}, fmt.Errorf("normalisation %q: %s value %q is not a number", s, key, f)
				}
				list = append(list, float32(v))
			}
			if strings.ToLower(key) == "mean" {
				n.Mean = list
			} else {
				n.Std = list
			}
		default:
			return Normalization{}, fmt.Errorf("normalisation %q: unknown setting %q (scale, mean, std)", s, key)
		}
	}
	if err := n.Validate(0); err != nil {
		return Normalization{}, err
	}
	return n, nil
}

func parseRatio(s string) (float32, error) {
	num, den, frac := strings.Cut(s, "/")
	a, err := strconv.ParseFloat(strings.TrimSpace(num), 32)
	if err != nil {
		return 0, errors.New("not a number")
	}
	if frac {
		b, err := strconv.ParseFloat(strings.TrimSpace(den), 32)
		if err != nil || b == 0 {
			return 0, errors.New("not a number or a fraction like 1/255")
		}
		a /= b
	}
	return float32(a), nil
}

func (n Normalization) apply(v []float32, layout string, c, hw int) {
	if n.IsZero() {
		return
	}
	scale := n.Scale
	if scale == 0 {
		scale = 1
	}
	at := func(l []float32, ch int, def float32) float32 {
		switch len(l) {
		case 0:
			return def
		case 1:
			return l[0]
		}
		return l[ch]
	}
	for ch := range c {
		m, s := at(n.Mean, ch, 0), at(n.Std, ch, 1)
		if layout == "HWC" {
			for i := ch; i < len(v); i += c {
				v[i] = (v[i]*scale - m) / s
			}
			continue
		}
		for i := ch * hw; i < (ch+1)*hw; i++ {
			v[i] = (v[i]*scale - m) / s
		}
	}
}

// ImageInfo records how an image folder became samples, so a report can state it.
type ImageInfo struct {
	Root  string   `json:"root"`  // the folder whose subfolders are the classes
	Files []string `json:"files"` // sample order, relative to Root, slash-separated
	// Layout of a sample: "CHW" (channels first, ONNX's NCHW), "HWC" (channels last) or "HW"
	// (gray, no channel axis).
	Layout   string `json:"layout"`
	Channels int    `json:"channels"`
	Height   int    `json:"height"`
	Width    int    `json:"width"`
	Filter   string `json:"filter"` // the resampling filter: "bilinear"
	// Resized counts images whose size differed from Height×Width; Converted, images whose
	// channels were converted (RGB→gray by luma, gray→RGB by repetition).
	Resized   int           `json:"resized"`
	Converted int           `json:"converted"`
	Norm      Normalization `json:"normalization"`
}

// String summarises the preprocessing, e.g. "120 images from 3 classes as [1 28 28] (CHW gray);
// 12 resized (bilinear), 4 converted to gray; normalisation: none (raw pixel values 0..255)".
func (in *ImageInfo) String() string {
	var b strings.Builder
	colour := "gray"
	if in.Channels == 3 {
		colour = "RGB"
	}
	fmt.Fprintf(&b, "%d images as %v (%s %s)", len(in.Files), in.shape(), in.Layout, colour)
	var notes []string
	if in.Resized > 0 {
		notes = append(notes, fmt.Sprintf("%d resized (%s)", in.Resized, in.Filter))
	}
	if in.Converted > 0 {
		notes = append(notes, fmt.Sprintf("%d converted to %s", in.Converted, colour))
	}
	if len(notes) > 0 {
		b.WriteString("; " + strings.Join(notes, ", "))
	}
	b.WriteString("; normalisation: " + in.Norm.String())
	return b.String()
}

func (in *ImageInfo) shape() []int {
	switch in.Layout {
	case "HWC":
		return []int{in.Height, in.Width, in.Channels}
	case "HW":
		return []int{in.Height, in.Width}
	}
	return []int{in.Channels, in.Height, in.Width}
}

// imageTarget is a per-sample image shape.
type imageTarget struct {
	layout  string
	c, h, w int
}

// asImageShape reads a per-sample shape as an image: [C,H,W] with C 1 or 3 (preferred, as ONNX
// models are NCHW), [H,W,C] with C 1 or 3, or [H,W] with both above 1 (gray).
func asImageShape(s []int) (imageTarget, bool) {
	rgbOrGray := func(c int) bool { return c == 1 || c == 3 }
	for _, d := range s {
		if d <= 0 || d > 1<<16 {
			return imageTarget{}, false
		}
	}
	switch {
	case len(s) == 3 && rgbOrGray(s[0]):
		return imageTarget{"CHW", s[0], s[1], s[2]}, true
	case len(s) == 3 && rgbOrGray(s[2]):
		return imageTarget{"HWC", s[2], s[0], s[1]}, true
	case len(s) == 2 && s[0] > 1 && s[1] > 1:
		return imageTarget{"HW", 1, s[0], s[1]}, true
	}
	return imageTarget{}, false
}

func (t imageTarget) shape() []int {
	return (&ImageInfo{Layout: t.layout, Channels: t.c, Height: t.h, Width: t.w}).shape()
}

// imageSet holds the decoded originals, each an *image.Gray or an opaque *image.RGBA.
type imageSet struct {
	pics []image.Image
}

func isGray(m image.Image) bool { _, ok := m.(*image.Gray); return ok }

// render draws every original at the target into a new sample array.
func (s *imageSet) render(t imageTarget, norm Normalization) ([]float32, int, int, error) {
	if err := norm.Validate(t.c); err != nil {
		return nil, 0, 0, err
	}
	n := t.c * t.h * t.w
	if len(s.pics) > 0 && n > maxElements/len(s.pics) {
		return nil, 0, 0, fmt.Errorf("%w: %d images of %v are more than %d values", ErrImageTooLarge, len(s.pics), t.shape(), maxElements)
	}
	x := make([]float32, len(s.pics)*n)
	resized := make([]bool, len(s.pics))
	converted := make([]bool, len(s.pics))
	parallel(len(s.pics), func(i int) error {
		resized[i], converted[i] = renderOne(s.pics[i], t, x[i*n:(i+1)*n])
		norm.apply(x[i*n:(i+1)*n], t.layout, t.c, t.h*t.w)
		return nil
	})
	count := func(v []bool) (k int) {
		for _, b := range v {
			if b {
				k++
			}
		}
		return k
	}
	return x, count(resized), count(converted), nil
}

func renderOne(src image.Image, t imageTarget, dst []float32) (resized, converted bool) {
	gray := isGray(src)
	if t.c == 1 && !gray {
		src, converted = toGray(src.(*image.RGBA)), true
	}
	converted = converted || (t.c == 3 && gray)
	b := src.Bounds()
	var pix []uint8 // RGBA or Gray pixels at the target size
	stride := 1
	if b.Dx() == t.w && b.Dy() == t.h {
		if g, ok := src.(*image.Gray); ok {
			pix = g.Pix
		} else {
			pix, stride = src.(*image.RGBA).Pix, 4
		}
	} else {
		resized = true
		out := image.NewRGBA(image.Rect(0, 0, t.w, t.h))
		draw.BiLinear.Scale(out, out.Bounds(), src, b, draw.Src, nil)
		pix, stride = out.Pix, 4
	}
	hw := t.h * t.w
	for i := range hw {
		p := pix[i*stride:]
		for c := range t.c {
			v := float32(p[0])
			if stride == 4 && t.c == 3 {
				v = float32(p[c])
			}
			if t.layout == "HWC" {
				dst[i*t.c+c] = v
			} else {
				dst[c*hw+i] = v
			}
		}
	}
	return resized, converted
}

// toGray converts by ITU-R 601 luma, as color.GrayModel and PIL's convert("L") do.
func toGray(m *image.RGBA) *image.Gray {
	g := image.NewGray(m.Bounds())
	for i := range g.Pix {
		p := m.Pix[4*i : 4*i+3]
		g.Pix[i] = uint8((19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16)
	}
	return g
}

// parallel runs f(0..n-1) on GOMAXPROCS goroutines and returns the error of the lowest index.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				errs[i] = f(i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var imageExts = []string{".png", ".jpg", ".jpeg"}

func isImageFile(name string) bool {
	return slices.Contains(imageExts, strings.ToLower(filepath.Ext(name)))
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") || name == "__MACOSX" }

// visible lists a folder's entries without hidden ones.
func visible(dir string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ents, func(e fs.DirEntry) bool { return hidden(e.Name()) }), nil
}

// imageRoot finds the folder whose subfolders are the classes: dir itself when one of its
// subfolders directly holds an image, or, for an archive that wraps everything in one top
// folder, that folder (a few levels at most).
func imageRoot(dir string) (string, bool) {
	for range 4 {
		ents, err := visible(dir)
		if err != nil {
			return "", false
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			sub, err := visible(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			for _, f := range sub {
				if !f.IsDir() && isImageFile(f.Name()) {
					return dir, true
				}
			}
		}
		if len(ents) != 1 || !ents[0].IsDir() {
			return "", false
		}
		dir = filepath.Join(dir, ents[0].Name())
	}
	return "", false
}

// firstImage finds some image file under dir (looking at a bounded number of entries) for a hint.
func firstImage(dir string) string {
	seen, found := 0, ""
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		seen++
		if err != nil || seen > 10_000 {
			return fs.SkipAll
		}
		if !d.IsDir() && isImageFile(p) {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// LoadImages reads an image folder (see the notes on image folders above). With WithShape the
// images are rendered at that per-sample shape when it reads as an image ([C,H,W] or [H,W,C]
// with C 1 or 3, or [H,W]), and otherwise loaded at their own size and reshaped to it when the
// element counts match (a [784] input for 28×28 gray images); without it, at their own size,
// channels first. WithNormalization maps the pixel values; WithImageLimits bounds the images.
func LoadImages(dir string, opts ...Option) (*Dataset, error) {
	o := newOptions(opts)
	root, ok := imageRoot(dir)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an image folder: it needs one subfolder per class holding .png or .jpg images (CLASS/IMAGE.png)", ErrFormat, dir)
	}
	// A shape that reads as an image is rendered directly; any other (flat features, say) is
	// fitted after loading at the images' own size, as Fit would.
	t, asImage := asImageShape(o.shape)
	if err := o.norm.Validate(t.c); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", dir, err)
	}
	ents, err := visible(root)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	d := &Dataset{Images: &ImageInfo{Root: root, Filter: "bilinear", Norm: o.norm}}
	for _, e := range ents {
		if !e.IsDir() {
			if isImageFile(e.Name()) {
				return nil, fmt.Errorf("%w: image %s is not in a class folder; put each image in a folder named by its class (%s/CLASS/%s)",
					ErrFormat, filepath.Join(root, e.Name()), root, e.Name())
			}
			continue
		}
		label := int64(len(d.ClassNames))
		if label >= MaxClasses {
			return nil, fmt.Errorf("%w: %s has more than %d class folders", ErrFormat, root, MaxClasses)
		}
		d.ClassNames = append(d.ClassNames, e.Name())
		files, err := classFiles(root, e.Name())
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			d.Images.Files = append(d.Images.Files, f)
			d.Y = append(d.Y, label)
		}
	}
	d.N = len(d.Y)
	if d.N == 0 {
		return nil, fmt.Errorf("%w: the class folders of %s hold no .png or .jpg images", ErrFormat, root)
	}
	if d.img, err = decodeAll(root, d.Images.Files, o); err != nil {
		return nil, err
	}
	if !asImage {
		t = nativeTarget(d.img.pics)
	}
	if err := d.renderImages(t, o.norm); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", dir, err)
	}
	if o.shape != nil && !asImage {
		if err := d.Fit(o.shape); err != nil {
			return nil, fmt.Errorf("dataset %s: %w", dir, err)
		}
	}
	return d, nil
}

// classFiles lists the images of one class folder, in torchvision's order: by folder, then name.
func classFiles(root, class string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(filepath.Join(root, class), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if hidden(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isImageFile(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	slices.SortStableFunc(files, func(a, b string) int {
		da, fa := pathSplit(a)
		db, fb := pathSplit(b)
		return cmp.Or(strings.Compare(da, db), strings.Compare(fa, fb))
	})
	return files, nil
}

func pathSplit(p string) (string, string) {
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:]
}

// decodeAll checks every image's header against the limits, then decodes them all.
func decodeAll(root string, files []string, o options) (*imageSet, error) {
	var total int64
	for _, f := range files {
		path := filepath.Join(root, filepath.FromSlash(f))
		cfg, _, err := imageConfig(path, o.maxPixels)
		if err != nil {
			return nil, err
		}
		px := int64(cfg.Width) * int64(cfg.Height)
		if cfg.ColorModel != color.GrayModel && cfg.ColorModel != color.Gray16Model {
			px *= 4
		}
		if total += px; total > o.maxBytes {
			return nil, fmt.Errorf("%w: the images of %s decode to more than %d MiB (at %s); give a smaller folder or raise the limit",
				ErrImageTooLarge, root, o.maxBytes>>20, path)
		}
	}
	set := &imageSet{pics: make([]image.Image, len(files))}
	err := parallel(len(files), func(i int) error {
		m, err := decodeImage(filepath.Join(root, filepath.FromSlash(files[i])), o.maxPixels)
		set.pics[i] = m
		return err
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

// imageConfig reads an image's header, refusing formats other than PNG and JPEG and sizes
// beyond maxPixels.
func imageConfig(path string, maxPixels int64) (image.Config, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Config{}, "", fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return checkConfig(path, bufio.NewReader(f), maxPixels)
}

func checkConfig(path string, r *bufio.Reader, maxPixels int64) (image.Config, string, error) {
	magic, _ := r.Peek(8)
	var cfg image.Config
	var format string
	var err error
	switch {
	case bytes.HasPrefix(magic, []byte("\x89PNG\r\n\x1a\n")):
		format = "png"
		cfg, err = png.DecodeConfig(r)
	case bytes.HasPrefix(magic, []byte("\xff\xd8")):
		format = "jpeg"
		cfg, err = jpeg.DecodeConfig(r)
	default:
		return cfg, "", fmt.Errorf("%w: %s is not a PNG or JPEG image", ErrFormat, path)
	}
	if err != nil {
		return cfg, "", fmt.Errorf("%w: %s: %v", ErrFormat, path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, "", fmt.Errorf("%w: %s is empty (%d×%d)", ErrFormat, path, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return cfg, "", fmt.Errorf("%w: %s is %d×%d (%d Mpixel); images above %d Mpixel are refused",
			ErrImageTooLarge, path, cfg.Width, cfg.Height, px>>20, maxPixels>>20)
	}
	return cfg, format, nil
}

// decodeImage decodes a PNG or JPEG (checking its header first) into an *image.Gray or an opaque
// *image.RGBA.
func decodeImage(path string, maxPixels int64) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	m, err := readImage(path, f, maxPixels)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func readImage(path string, r io.Reader, maxPixels int64) (image.Image, error) {
	var head bytes.Buffer
	br := bufio.NewReader(io.TeeReader(r, &head))
	_, format, err := checkConfig(path, br, maxPixels)
	if err != nil {
		return nil, err
	}
	full := io.MultiReader(bytes.NewReader(head.Bytes()), r)
	var m image.Image
	if format == "png" {
		m, err = png.Decode(full)
	} else {
		m, err = jpeg.Decode(full)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, path, err)
	}
	return compact(m), nil
}

// compact turns a decoded image into 8-bit gray or opaque RGBA pixels: 16-bit values keep their
// high byte, alpha is dropped (the stored colour is kept, as PIL's convert("RGB") does).
func compact(m image.Image) image.Image {
	b := m.Bounds()
	r := image.Rect(0, 0, b.Dx(), b.Dy())
	switch s := m.(type) {
	case *image.Gray:
		if b.Min == (image.Point{}) {
			return s
		}
		g := image.NewGray(r)
		stddraw.Draw(g, r, s, b.Min, stddraw.Src)
		return g
	case *image.Gray16:
		g := image.NewGray(r)
		for y := range r.Dy() {
			for x := range r.Dx() {
				g.Pix[y*g.Stride+x] = s.Pix[s.PixOffset(b.Min.X+x, b.Min.Y+y)]
			}
		}
		return g
	}
	out := image.NewRGBA(r)
	if o, ok := m.(interface{ Opaque() bool }); ok && o.Opaque() {
		stddraw.Draw(out, r, m, b.Min, stddraw.Src)
		return out
	}
	for y := range r.Dy() {
		for x := range r.Dx() {
			c := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = c.R, c.G, c.B, 0xff
		}
	}
	return out
}

// nativeTarget is the images' own shape: the most common size (the first image's on a tie),
// gray when every image is, channels first.
func nativeTarget(pics []image.Image) imageTarget {
	type size struct{ w, h int }
	counts := map[size]int{}
	var best size
	c := 1
	for _, p := range pics {
		s := size{p.Bounds().Dx(), p.Bounds().Dy()}
		counts[s]++
		if counts[s] > counts[best] {
			best = s
		}
		if !isGray(p) {
			c = 3
		}
	}
	return imageTarget{"CHW", c, best.h, best.w}
}

// renderImages (re)draws the samples from the originals at t.
func (d *Dataset) renderImages(t imageTarget, norm Normalization) error {
	x, resized, converted, err := d.img.render(t, norm)
	if err != nil {
		return err
	}
	info := *d.Images // never touch an ImageInfo another Dataset value shares
	info.Layout, info.Channels, info.Height, info.Width = t.layout, t.c, t.h, t.w
	info.Resized, info.Converted, info.Norm = resized, converted, norm
	d.Images, d.X, d.Shape = &info, x, t.shape()
	return nil
}

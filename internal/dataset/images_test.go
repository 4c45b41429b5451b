package dataset

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/internal/volume"
)

// grayImage is a w×h gray image whose pixel (x,y) is f(x,y).
func grayImage(w, h int, f func(x, y int) uint8) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetGray(x, y, color.Gray{f(x, y)})
		}
	}
	return m
}

func uniformRGB(w, h int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func writePNG(t testing.TB, path string, m image.Image) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, m))
	writeFile(t, path, buf.Bytes())
}

func writeJPEG(t testing.TB, path string, m image.Image) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, m, &jpeg.Options{Quality: 100}))
	writeFile(t, path, buf.Bytes())
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// pngHeader is a PNG signature and IHDR chunk announcing w×h 8-bit gray, and nothing else.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth; colour type 0 (gray), compression, filter, interlace 0
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestLoadImageFolder(t *testing.T) {
	dir := t.TempDir()
	// Classes sorted by name: bird 0, cat 1, dog 2. Pixel (x,y) of image k of class c is
	// 16c + 4k + x + y, so every value says where it came from.
	for c, class := range []string{"bird", "cat", "dog"} {
		for k, name := range []string{"b.png", "a.png"} {
			writePNG(t, filepath.Join(dir, class, name), grayImage(3, 2, func(x, y int) uint8 { return uint8(16*c + 4*(1-k) + x + y) }))
		}
	}
	writeFile(t, filepath.Join(dir, "cat", "notes.txt"), []byte("not an image"))
	writeFile(t, filepath.Join(dir, "cat", ".DS_Store"), []byte("junk"))
	writeFile(t, filepath.Join(dir, "cat", "._a.png"), []byte("macOS resource fork"))
	writeFile(t, filepath.Join(dir, ".hidden", "x.png"), []byte("never read"))
	writeFile(t, filepath.Join(dir, "README.md"), []byte("# my images"))

	d, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, 6, d.N)
	require.Equal(t, []int{1, 2, 3}, d.Shape)
	require.Equal(t, []string{"bird", "cat", "dog"}, d.ClassNames)
	require.Equal(t, []int64{0, 0, 1, 1, 2, 2}, d.Y)
	require.Equal(t, 3, d.Classes())
	require.Equal(t, []string{"bird/a.png", "bird/b.png", "cat/a.png", "cat/b.png", "dog/a.png", "dog/b.png"}, d.Images.Files)
	require.Equal(t, []float32{32, 33, 34, 33, 34, 35}, d.Sample(4)) // dog/a.png, raw 0..255
	require.Equal(t, []float32{16 + 4, 21, 22, 21, 22, 23}, d.Sample(3))
	require.Equal(t, "6 images as [1 2 3] (CHW gray); normalisation: none (raw pixel values 0..255)", d.Images.String())

	// A model taking flat features gets the same values, reshaped.
	require.NoError(t, d.Fit([]int{6}))
	require.Equal(t, []int{6}, d.Shape)
	require.Equal(t, []float32{32, 33, 34, 33, 34, 35}, d.Sample(4))

	// One that takes 64 values per sample cannot be fed, and the message says why.
	err = d.Fit([]int{64})
	require.ErrorIs(t, err, ErrShape)
	require.ErrorContains(t, err, "each sample has shape [6] (6 values) but the model's input takes [64] (64 values) per sample")
}

func TestLoadImagesResizeAndConvert(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a", "1.png"), grayImage(4, 4, func(x, y int) uint8 { return 100 }))
	writePNG(t, filepath.Join(dir, "a", "2.png"), grayImage(4, 4, func(x, y int) uint8 { return 200 }))
	writePNG(t, filepath.Join(dir, "b", "1.png"), uniformRGB(8, 6, color.NRGBA{255, 0, 0, 255}))
	writeJPEG(t, filepath.Join(dir, "b", "2.jpg"), uniformRGB(4, 4, color.NRGBA{0, 0, 255, 255}))

	// Native: the most common size (4×4), RGB because some images are.
	d, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, []int{3, 4, 4}, d.Shape)
	require.Equal(t, 1, d.Images.Resized)
	require.Equal(t, 2, d.Images.Converted)
	require.Equal(t, slices.Repeat([]float32{100}, 48), d.Sample(0), "gray repeated into R, G and B")
	red := d.Sample(2)
	require.Equal(t, slices.Repeat([]float32{255}, 16), red[:16])
	require.Equal(t, slices.Repeat([]float32{0}, 32), red[16:], "a uniform image stays uniform when resized")
	blue := d.Sample(3)
	require.InDelta(t, 255, blue[40], 2) // JPEG is lossy
	require.InDelta(t, 0, blue[0], 2)
	require.Contains(t, d.Images.String(), "4 images as [3 4 4] (CHW RGB); 1 resized (bilinear), 2 converted to RGB")

	// A gray model: RGB becomes luma, sizes the model's.
	require.NoError(t, d.Fit([]int{1, 2, 3}))
	require.Equal(t, []int{1, 2, 3}, d.Shape)
	require.Equal(t, slices.Repeat([]float32{200}, 6), d.Sample(1))
	require.Equal(t, slices.Repeat([]float32{76}, 6), d.Sample(2), "0.299·255 rounds to 76")
	require.InDelta(t, 29, d.Sample(3)[0], 2)
	require.Equal(t, 4, d.Images.Resized)
	require.Equal(t, 2, d.Images.Converted)

	// Channels last.
	require.NoError(t, d.Fit([]int{2, 2, 3}))
	require.Equal(t, []float32{255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0}, d.Sample(2))
	require.Equal(t, "HWC", d.Images.Layout)

	// And a plain [H,W] gray input.
	require.NoError(t, d.Fit([]int{5, 5}))
	require.Equal(t, slices.Repeat([]float32{100}, 25), d.Sample(0))
}

func TestFitImagesLeavesCopiesAlone(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "0", "a.png"), grayImage(28, 28, func(x, y int) uint8 { return uint8(x * 9) }))
	writePNG(t, filepath.Join(dir, "1", "a.png"), grayImage(28, 28, func(x, y int) uint8 { return uint8(y * 9) }))
	d, err := Load(dir)
	require.NoError(t, err)
	before := slices.Clone(d.X)

	c := *d // what compress does with a calibration set
	require.NoError(t, c.Fit([]int{1, 14, 14}))
	require.Len(t, c.X, 2*14*14)
	require.Equal(t, []int{1, 28, 28}, d.Shape)
	require.Equal(t, before, d.X)
	require.Equal(t, 28, d.Images.Height)
	require.Equal(t, 14, c.Images.Height)

	// A resized gradient keeps its direction: columns grow left to right in image 0.
	row := c.Sample(0)[14*7 : 14*8]
	require.True(t, slices.IsSorted(row), "%v", row)
	require.Less(t, row[0], row[13])

	// Subsets render too.
	s := d.Subset(1, 2)
	require.NoError(t, s.Fit([]int{1, 7, 7}))
	require.Equal(t, []int64{1}, s.Y)
	require.Equal(t, []string{"1/a.png"}, s.Images.Files)
	require.Len(t, s.X, 49)
}

func TestLoadImagesWithShapeAndNormalization(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "x", "a.png"), uniformRGB(10, 10, color.NRGBA{255, 51, 0, 255}))
	d, err := Load(dir, WithShape([]int{3, 4, 4}), WithNormalization(UnitScale()))
	require.NoError(t, err)
	require.Equal(t, []int{3, 4, 4}, d.Shape)
	require.Equal(t, float32(1), d.X[0])
	require.InDelta(t, 0.2, d.X[16], 1e-6)
	require.Equal(t, float32(0), d.X[32])
	require.Equal(t, "x/255", d.Images.Norm.String())

	d, err = LoadImages(dir, WithShape([]int{4, 4, 3}), WithNormalization(ImageNetNorm()))
	require.NoError(t, err)
	require.InDelta(t, (1-0.485)/0.229, d.X[0], 1e-5)
	require.InDelta(t, (0.2-0.456)/0.224, d.X[1], 1e-5)
	require.InDelta(t, (0-0.406)/0.225, d.X[2], 1e-5)
	require.Contains(t, d.Images.String(), "normalisation: (x/255 - mean) / std, mean [0.485 0.456 0.406], std [0.229 0.224 0.225]")

	// The normalisation stays with the dataset through Fit, and must suit the channels.
	require.NoError(t, d.Fit([]int{3, 2, 2}))
	require.InDelta(t, (1-0.485)/0.229, d.X[0], 1e-5)
	err = d.Fit([]int{1, 2, 2})
	require.ErrorIs(t, err, ErrShape)
	require.ErrorContains(t, err, "3 mean values but the samples have 1 channel")

	_, err = Load(dir, WithShape([]int{4, 4}))
	require.NoError(t, err)
	_, err = Load(dir, WithShape([]int{10}))
	require.ErrorIs(t, err, ErrShape)
	require.ErrorContains(t, err, "each sample has shape [3 10 10] (300 values) but the model's input takes [10] (10 values) per sample; an image sample is [C,H,W]")
	d, err = Load(dir, WithShape([]int{300}))
	require.NoError(t, err)
	require.Equal(t, []int{300}, d.Shape)
	require.Equal(t, float32(255), d.X[99])
	require.Equal(t, float32(51), d.X[100])
}

func TestNormalization(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Normalization
		str  string
	}{
		{"none", Normalization{}, "none (raw pixel values 0..255)"},
		{"", Normalization{}, "none (raw pixel values 0..255)"},
		{"unit", UnitScale(), "x/255"},
		{"imagenet", ImageNetNorm(), "(x/255 - mean) / std, mean [0.485 0.456 0.406], std [0.229 0.224 0.225]"},
		{"scale=1/255 mean=0.5 std=0.5", Normalization{Scale: 1.0 / 255, Mean: []float32{0.5}, Std: []float32{0.5}}, "(x/255 - mean) / std, mean [0.5], std [0.5]"},
		{"scale=1/16", Normalization{Scale: 1.0 / 16}, "x/16"},
		{"scale=2", Normalization{Scale: 2}, "x*2"},
		{"mean=0.1,0.2,0.3;std=[1,1,1]", Normalization{Mean: []float32{0.1, 0.2, 0.3}, Std: []float32{1, 1, 1}}, "x - mean, mean [0.1 0.2 0.3]"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			n, err := ParseNormalization(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
			require.Equal(t, tc.str, n.String())
		})
	}
	for _, bad := range []string{"scale", "scale=x", "scale=1/0", "std=0", "mean=nan", "gamma=2", "scale=-1"} {
		_, err := ParseNormalization(bad)
		require.Error(t, err, bad)
	}
}

func TestLoadImagesFormats(t *testing.T) {
	dir := t.TempDir()
	// 16-bit gray keeps its high byte.
	g16 := image.NewGray16(image.Rect(0, 0, 2, 1))
	g16.SetGray16(0, 0, color.Gray16{0x1234})
	g16.SetGray16(1, 0, color.Gray16{0xff00})
	writePNG(t, filepath.Join(dir, "a", "g16.png"), g16)
	// Alpha is dropped, the stored colour kept (as PIL's convert("RGB")).
	writePNG(t, filepath.Join(dir, "b", "alpha.png"), uniformRGB(2, 1, color.NRGBA{10, 20, 30, 0}))
	// Paletted.
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{1, 2, 3, 255}, color.RGBA{4, 5, 6, 255}})
	pal.SetColorIndex(1, 0, 1)
	writePNG(t, filepath.Join(dir, "c", "pal.png"), pal)
	// Gray JPEG, and a JPEG named .jpeg in upper case.
	writeJPEG(t, filepath.Join(dir, "d", "gray.JPEG"), grayImage(2, 1, func(x, y int) uint8 { return 128 }))

	d, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, []int{3, 1, 2}, d.Shape)
	require.Equal(t, []float32{0x12, 0xff, 0x12, 0xff, 0x12, 0xff}, d.Sample(0))
	require.Equal(t, []float32{10, 10, 20, 20, 30, 30}, d.Sample(1))
	require.Equal(t, []float32{1, 4, 2, 5, 3, 6}, d.Sample(2))
	require.InDeltaSlice(t, []float32{128, 128, 128, 128, 128, 128}, d.Sample(3), 1)
}

func TestLoadImagesErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		opts  []Option
		is    error
		msg   string
	}{
		{"corrupt png", map[string][]byte{"a/ok.png": nil, "a/bad.png": []byte("\x89PNG\r\n\x1a\nrubbish")}, nil, ErrFormat, "a/bad.png"},
		{"truncated png", map[string][]byte{"a/cut.png": pngHeader(4, 4)}, nil, ErrFormat, "a/cut.png"},
		{"text named png", map[string][]byte{"a/x.png": []byte("hello")}, nil, ErrFormat, "x.png is not a PNG or JPEG image"},
		{"gif named jpg", map[string][]byte{"a/x.jpg": []byte("GIF89a....")}, nil, ErrFormat, "x.jpg is not a PNG or JPEG image"},
		{"bomb header", map[string][]byte{"a/ok.png": nil, "a/bomb.png": pngHeader(100_000, 100_000)}, nil, ErrImageTooLarge, "a/bomb.png is 100000×100000"},
		{"empty image", map[string][]byte{"a/zero.png": pngHeader(0, 5)}, nil, ErrFormat, "zero.png"},
		{"pixel limit", map[string][]byte{"a/ok.png": nil}, []Option{WithImageLimits(10, 0)}, ErrImageTooLarge, "ok.png is 4×4"},
		{"folder limit", map[string][]byte{"a/ok.png": nil, "b/ok.png": nil}, []Option{WithImageLimits(0, 20)}, ErrImageTooLarge, "b/ok.png"},
		{"image outside classes", map[string][]byte{"a/ok.png": nil, "stray.png": nil}, nil, ErrFormat, "stray.png is not in a class folder"},
		{"no images", map[string][]byte{"a/readme.txt": []byte("x")}, nil, ErrFormat, "one subfolder per class"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if b == nil {
					writePNG(t, p, grayImage(4, 4, func(x, y int) uint8 { return 1 }))
				} else {
					writeFile(t, p, b)
				}
			}
			_, err := Load(dir, tc.opts...)
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, filepath.FromSlash(tc.msg))
		})
	}

	// A single image, and images one level too deep (named in the hint).
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "one.png"), grayImage(1, 1, func(x, y int) uint8 { return 0 }))
	_, err := Load(filepath.Join(dir, "one.png"))
	require.ErrorContains(t, err, "is a single image")
	deep := t.TempDir()
	writePNG(t, filepath.Join(deep, "train", "x", "cat", "a.png"), grayImage(1, 1, func(x, y int) uint8 { return 0 }))
	writePNG(t, filepath.Join(deep, "test", "x", "cat", "a.png"), grayImage(1, 1, func(x, y int) uint8 { return 0 }))
	_, err = Load(deep)
	require.ErrorIs(t, err, ErrFormat)
	require.ErrorContains(t, err, "name the folder whose subfolders are the classes")
}

func TestLoadImagesLayouts(t *testing.T) {
	px := func(x, y int) uint8 { return 7 }
	t.Run("wrapper folder", func(t *testing.T) {
		dir := t.TempDir()
		writePNG(t, filepath.Join(dir, "digits", "0", "a.png"), grayImage(2, 2, px))
		writePNG(t, filepath.Join(dir, "digits", "1", "a.png"), grayImage(2, 2, px))
		writeFile(t, filepath.Join(dir, "__MACOSX", "digits", "._x"), []byte("x"))
		d, err := Load(dir)
		require.NoError(t, err)
		require.Equal(t, []string{"0", "1"}, d.ClassNames)
		require.Equal(t, filepath.Join(dir, "digits"), d.Images.Root)
	})
	t.Run("one class", func(t *testing.T) {
		dir := t.TempDir()
		writePNG(t, filepath.Join(dir, "cat", "a.png"), grayImage(2, 2, px))
		d, err := Load(dir)
		require.NoError(t, err)
		require.Equal(t, []string{"cat"}, d.ClassNames)
	})
	t.Run("empty class keeps its label, nested images in torchvision order", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "a_empty"), 0o755))
		writePNG(t, filepath.Join(dir, "b", "z.png"), grayImage(2, 2, px))
		writePNG(t, filepath.Join(dir, "b", "sub", "a.png"), grayImage(2, 2, px))
		writePNG(t, filepath.Join(dir, "b", "c.png"), grayImage(2, 2, px))
		d, err := Load(dir)
		require.NoError(t, err)
		require.Equal(t, []string{"a_empty", "b"}, d.ClassNames)
		require.Equal(t, []int64{1, 1, 1}, d.Y)
		require.Equal(t, 2, d.Classes())
		require.Equal(t, []string{"b/c.png", "b/z.png", "b/sub/a.png"}, d.Images.Files)
	})
}

// An uploaded archive is extracted by the caller (the studio's dataset step), then loaded.
func TestLoadImageArchive(t *testing.T) {
	tmp := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, name := range []string{"shapes/circle/1.png", "shapes/circle/2.png", "shapes/square/1.jpg"} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		m := grayImage(5, 5, func(x, y int) uint8 { return uint8(50 * i) })
		if filepath.Ext(name) == ".png" {
			require.NoError(t, png.Encode(w, m))
		} else {
			require.NoError(t, jpeg.Encode(w, m, nil))
		}
	}
	require.NoError(t, zw.Close())
	archive := filepath.Join(tmp, "shapes.zip")
	writeFile(t, archive, buf.Bytes())

	dst := filepath.Join(tmp, "dataset")
	_, err := volume.Extract(archive, dst, volume.DefaultLimits)
	require.NoError(t, err)
	d, err := Load(dst, WithShape([]int{1, 3, 3}))
	require.NoError(t, err)
	require.Equal(t, []string{"circle", "square"}, d.ClassNames)
	require.Equal(t, []int64{0, 0, 1}, d.Y)
	require.Equal(t, slices.Repeat([]float32{50}, 9), d.Sample(1))
	require.InDeltaSlice(t, slices.Repeat([]float32{100}, 9), d.Sample(2), 2)
}

// The Fashion-MNIST test set written as PNG files reads back to exactly the values of the .npz
// the models were tested on: a PNG folder is as good a dataset as the array.
func TestImageFolderMatchesNPZ(t *testing.T) {
	ref, err := Load(testenv.RepoFile(t, "testdata/data/fashion_test.npz"))
	require.NoError(t, err)
	ref = ref.Subset(0, 100)
	dir := t.TempDir()
	source := map[string]int{} // file → sample of the npz
	for i := range ref.N {
		m := image.NewGray(image.Rect(0, 0, 28, 28))
		for j, v := range ref.Sample(i) {
			require.True(t, v >= 0 && v <= 255 && v == float32(uint8(v)), "pixel %v", v)
			m.Pix[j] = uint8(v)
		}
		name := fmt.Sprintf("%d/%03d.png", ref.Y[i], i)
		writePNG(t, filepath.Join(dir, filepath.FromSlash(name)), m)
		source[name] = i
	}
	d, err := Load(dir, WithShape([]int{1, 28, 28}))
	require.NoError(t, err)
	require.Equal(t, ref.N, d.N)
	require.Equal(t, []int{1, 28, 28}, d.Shape)
	for i, f := range d.Images.Files {
		src := source[f]
		require.Equal(t, ref.Y[src], d.Y[i], f)
		require.Equal(t, strconv.FormatInt(ref.Y[src], 10), d.ClassNames[d.Y[i]])
		require.Equal(t, ref.Sample(src), d.Sample(i), f)
	}
	require.Zero(t, d.Images.Resized)
}

func TestImageShapes(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		ok    bool
		want  imageTarget
	}{
		{[]int{1, 28, 28}, true, imageTarget{"CHW", 1, 28, 28}},
		{[]int{3, 96, 96}, true, imageTarget{"CHW", 3, 96, 96}},
		{[]int{96, 96, 3}, true, imageTarget{"HWC", 3, 96, 96}},
		{[]int{28, 28, 1}, true, imageTarget{"HWC", 1, 28, 28}},
		{[]int{28, 28}, true, imageTarget{"HW", 1, 28, 28}},
		{[]int{1, 784}, false, imageTarget{}},
		{[]int{784}, false, imageTarget{}},
		{[]int{4, 32, 32}, false, imageTarget{}},
		{[]int{3, 0, 32}, false, imageTarget{}},
		{[]int{3, 1 << 20, 32}, false, imageTarget{}},
	} {
		got, ok := asImageShape(tc.shape)
		require.Equal(t, tc.ok, ok, "%v", tc.shape)
		require.Equal(t, tc.want, got, "%v", tc.shape)
	}
}

func TestNormalizationRefusedForArrays(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.csv")
	writeFile(t, p, []byte("0,1,2\n1,3,4\n"))
	_, err := Load(p, WithNormalization(UnitScale()))
	require.ErrorContains(t, err, "normalisation (x/255) applies to image folders")
	require.False(t, errors.Is(err, ErrShape))
}

// A fitted image folder saved as .npz reads back as the same samples.
func TestWriteNPZ(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a", "1.png"), grayImage(6, 6, func(x, y int) uint8 { return uint8(10 * x) }))
	writePNG(t, filepath.Join(dir, "b", "1.png"), grayImage(6, 6, func(x, y int) uint8 { return uint8(10 * y) }))
	d, err := Load(dir, WithShape([]int{1, 3, 3}), WithNormalization(UnitScale()))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, d.WriteNPZ(&buf))
	back, err := ReadNPZ(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Equal(t, d.N, back.N)
	require.Equal(t, d.Shape, back.Shape)
	require.Equal(t, d.X, back.X)
	require.Equal(t, d.Y, back.Y)

	unlabelled := &Dataset{N: 2, Shape: []int{2}, X: []float32{1, 2, 3, 4}}
	buf.Reset()
	require.NoError(t, unlabelled.WriteNPZ(&buf))
	back, err = ReadNPZ(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Nil(t, back.Y)
	require.Equal(t, unlabelled.X, back.X)
}

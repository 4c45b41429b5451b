package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// The seed corpora under testdata/fuzz/<Target> hold interesting inputs the fuzzer found; plain
// `go test` runs them (and the f.Add seeds) as regression tests.

func FuzzReadNPY(f *testing.F) {
	var b bytes.Buffer
	WriteNPY(&b, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	f.Add(b.Bytes())
	f.Add(rawNPY(2, "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 2), }\n", make([]byte, 16)))
	f.Add(rawNPY(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", []byte{0, 0x3c, 0, 0xc0}))
	f.Add(rawNPY(3, "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 1, 3), }", []byte{1, 2, 3, 4, 5, 6}))
	f.Add(rawNPY(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (32768, 65536), }", make([]byte, 64)))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ReadNPY(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		n := 1
		for _, d := range a.Shape {
			if d < 0 {
				t.Fatalf("negative dimension in %v", a.Shape)
			}
			n *= d
		}
		if a.Len() != n || (a.F32 == nil) == (a.I64 == nil) {
			t.Fatalf("shape %v but %d elements (f32 %d, i64 %d)", a.Shape, a.Len(), len(a.F32), len(a.I64))
		}
		if len(a.Floats()) != n {
			t.Fatal("Floats lost elements")
		}
		// Whatever parsed also reads through the sized path used for files and npz members.
		if _, err := readNPY(bytes.NewReader(in), int64(len(in))); err != nil {
			t.Fatalf("sized read fails where the plain one succeeds: %v", err)
		}
		if len(a.Shape) > 0 {
			d, err := fromArrays(a, nil)
			if err == nil && len(d.X) != d.N*d.SampleLen() {
				t.Fatalf("dataset of %d samples of %v holds %d values", d.N, d.Shape, len(d.X))
			}
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"0,1,2\n1,3,4\n",
		"\ufeff1, 0.5,2\r\n\n0,3,-4e2\n",
		"label,a\n0,1\n",
		"0,1\n1\n",
		"2.0,1e40\n",
		"0,NaN,Inf\n",
		"0,0x1p-2,1_000\n",
		"  \n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ReadCSV(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "csv line ") && !strings.Contains(msg, "csv has no rows") {
				t.Fatalf("error %q names no line", msg)
			}
			return
		}
		if d.N < 1 || len(d.Shape) != 1 || d.Shape[0] < 1 {
			t.Fatalf("%d samples of shape %v", d.N, d.Shape)
		}
		if len(d.X) != d.N*d.SampleLen() || len(d.Y) != d.N {
			t.Fatalf("%d samples of %v: %d values, %d labels", d.N, d.Shape, len(d.X), len(d.Y))
		}
		for _, y := range d.Y {
			if y < 0 || y >= MaxClasses {
				t.Fatalf("label %d", y)
			}
		}
		if c := d.Classes(); c < 1 || c > MaxClasses {
			t.Fatalf("%d classes", c)
		}
	})
}

func FuzzReadNPZ(f *testing.F) {
	var x, y bytes.Buffer
	WriteNPY(&x, []int{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	WriteNPY(&y, []int{3}, []float32{0, 1, 2})
	f.Add(writeNPZ(f, map[string][]byte{"x.npy": x.Bytes(), "y.npy": y.Bytes()}, false))
	f.Add(writeNPZ(f, map[string][]byte{"x.npy": x.Bytes(), "y.npy": y.Bytes()}, true))
	f.Add(writeNPZ(f, map[string][]byte{"x.npy": rawNPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }", make([]byte, 16))}, true))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := ReadNPZ(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			return
		}
		if len(d.X) != d.N*d.SampleLen() || (d.Y != nil && len(d.Y) != d.N) {
			t.Fatalf("%d samples of %v: %d values, %d labels", d.N, d.Shape, len(d.X), len(d.Y))
		}
	})
}

func FuzzParseNormalization(f *testing.F) {
	for _, s := range []string{"none", "imagenet", "scale=1/255 mean=0.5 std=0.5", "mean=0.1,0.2,0.3;std=[1,1,1]", "scale=2/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNormalization(s)
		if err != nil {
			return
		}
		if err := n.Validate(0); err != nil {
			t.Fatalf("parsed %q into an invalid %+v: %v", s, n, err)
		}
		_ = n.String()
		v := []float32{0, 128, 255}
		c := max(len(n.Mean), len(n.Std), 1)
		if c > 1 {
			v = make([]float32, c)
		}
		n.apply(v, "CHW", c, len(v)/c)
	})
}

// FuzzReadImage feeds any bytes to the image reader (header check, decode, compaction) and
// renders what decodes at a few shapes.
func FuzzReadImage(f *testing.F) {
	var b bytes.Buffer
	png.Encode(&b, grayImage(3, 2, func(x, y int) uint8 { return uint8(x * y) }))
	f.Add(b.Bytes())
	b.Reset()
	png.Encode(&b, uniformRGB(2, 2, color.NRGBA{1, 2, 3, 4}))
	f.Add(b.Bytes())
	b.Reset()
	pal := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black, color.White})
	png.Encode(&b, pal)
	f.Add(b.Bytes())
	b.Reset()
	jpeg.Encode(&b, uniformRGB(9, 7, color.NRGBA{200, 100, 50, 255}), nil)
	f.Add(b.Bytes())
	f.Add(pngHeader(1<<15, 1<<15))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := readImage("fuzz.png", bytes.NewReader(in), 1<<16)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.png") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if _, ok := m.(*image.Gray); !ok {
			if _, ok := m.(*image.RGBA); !ok {
				t.Fatalf("decoded to %T", m)
			}
		}
		set := &imageSet{pics: []image.Image{m}}
		for _, tg := range []imageTarget{{"CHW", 1, 3, 5}, {"HWC", 3, 2, 2}, {"CHW", 3, m.Bounds().Dy(), m.Bounds().Dx()}} {
			x, _, _, err := set.render(tg, UnitScale())
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range x {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("pixel %v outside 0..1", v)
				}
			}
		}
	})
}

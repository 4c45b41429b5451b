package volume

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzLimits keep each fuzz execution small.
var fuzzLimits = Limits{MaxEntries: 64, MaxBytes: 64 << 10}

// extractFuzz writes the input as an archive named name in a fresh directory, extracts it into
// out/, and checks that nothing but the archive exists outside out/, that no link was created,
// and that the limits held.
func extractFuzz(t *testing.T, name string, in []byte) {
	tmp := t.TempDir()
	archive := filepath.Join(tmp, name)
	if err := os.WriteFile(archive, in, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(tmp, "out")
	files, err := Extract(archive, dst, fuzzLimits)
	if err == nil && len(files) > fuzzLimits.MaxEntries {
		t.Fatalf("%d files extracted, limit %d", len(files), fuzzLimits.MaxEntries)
	}
	var total int64
	entries := 0
	filepath.WalkDir(tmp, func(p string, d fs.DirEntry, werr error) error {
		if werr != nil {
			t.Fatalf("walk: %v", werr)
		}
		rel, _ := filepath.Rel(tmp, p)
		if rel == "." || rel == name {
			return nil
		}
		if rel != "out" && !strings.HasPrefix(rel, "out"+string(filepath.Separator)) {
			t.Fatalf("extraction wrote %s, outside the destination", rel)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			t.Fatalf("extraction made a link: %s", rel)
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				t.Fatal(err)
			}
			total += info.Size()
			entries++
			if info.Mode().Perm()&0o022 != 0 {
				t.Fatalf("%s is writable by others: %v", rel, info.Mode())
			}
		} else if !d.IsDir() {
			t.Fatalf("extraction made %s, a %v", rel, d.Type())
		}
		return nil
	})
	if total > fuzzLimits.MaxBytes {
		t.Fatalf("extracted %d bytes, limit %d", total, fuzzLimits.MaxBytes)
	}
	if entries > fuzzLimits.MaxEntries {
		t.Fatalf("extracted %d files, limit %d", entries, fuzzLimits.MaxEntries)
	}
}

func FuzzExtractZip(f *testing.F) {
	f.Add(makeZip(f, nested))
	f.Add(makeZip(f, []entry{{name: "../evil", body: "x"}}))
	f.Add(makeZip(f, []entry{{name: "l", mode: fs.ModeSymlink | 0o777, link: "/"}, {name: "l/x", body: "x"}}))
	f.Add(makeZip(f, []entry{{name: "a/", mode: fs.ModeDir | 0o755}, {name: "a", body: "file over dir"}}))
	f.Add(makeZip(f, []entry{{name: "big", body: strings.Repeat("z", 100<<10)}}))
	// Stored members: the fuzzer can change names and data without breaking a deflate stream.
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"a/b/c.txt", "x/../y.txt", "dir/", `w\v.txt`} {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		w.Write([]byte("data"))
	}
	zw.Close()
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) { extractFuzz(t, "f.zip", in) })
}

func FuzzExtractTar(f *testing.F) {
	f.Add(makeTar(f, nested, false), false)
	f.Add(makeTar(f, nested, true), true)
	f.Add(makeTar(f, []entry{{name: "../evil", body: "x"}}, false), false)
	f.Add(makeTar(f, []entry{{name: "f", body: "x"}, {name: "h", hard: true, link: "f"}}, false), false)
	f.Add(makeTar(f, []entry{{name: "l", mode: fs.ModeSymlink, link: "/"}, {name: "l/x", body: "x"}}, true), true)
	f.Add(makeTar(f, []entry{{name: "p", typ: tar.TypeFifo}, {name: "s", typ: tar.TypeGNUSparse}}, false), false)
	f.Add(makeTar(f, []entry{{name: "big", body: strings.Repeat("z", 100<<10)}}, true), true)
	f.Fuzz(func(t *testing.T, in []byte, gz bool) {
		name := "f.tar"
		if gz {
			name = "f.tgz"
		}
		extractFuzz(t, name, in)
	})
}

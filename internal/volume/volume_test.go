package volume

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// entry is one archive member.
type entry struct {
	name string
	body string
	mode fs.FileMode // 0: a regular file 0644 (a directory when name ends in /)
	link string      // symlink target (mode has ModeSymlink) or hard link target (tar.TypeLink)
	hard bool
	typ  byte // a raw tar type flag, overriding the rest
	size int64
}

func makeZip(t testing.TB, entries []entry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Unix(1e9, 0)}
		switch {
		case e.mode != 0:
			h.SetMode(e.mode)
		case strings.HasSuffix(e.name, "/"):
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		require.NoError(t, err)
		body := e.body
		if e.mode&fs.ModeSymlink != 0 {
			body = e.link
		}
		_, err = w.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func makeTar(t testing.TB, entries []entry, gz bool) []byte {
	var b bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&b)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&b)
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}
		switch {
		case e.typ != 0:
			h.Typeflag, h.Size = e.typ, e.size
		case e.hard:
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.link, 0
		case e.mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		case strings.HasSuffix(e.name, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if e.mode.Perm() != 0 {
			h.Mode = int64(e.mode.Perm())
		}
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	if gz {
		require.NoError(t, zw.Close())
	}
	return b.Bytes()
}

// tree lists every path under dir (slash-separated, directories with a trailing /) with the
// contents of files.
func tree(t testing.TB, dir string) map[string]string {
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
		case d.IsDir():
			out[rel+"/"] = ""
		case d.Type()&fs.ModeSymlink != 0:
			out[rel] = "LINK"
		default:
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			out[rel] = string(b)
		}
		return nil
	}))
	return out
}

var nested = []entry{
	{name: "data/"},
	{name: "data/train/"},
	{name: "data/train/a.txt", body: "alpha"},
	{name: "data/test/b/c.txt", body: "gamma"}, // parents not listed
	{name: "./top.txt", body: "top"},
	{name: `win\style\path.txt`, body: "backslashes"},
	{name: "data/train/a.txt", body: "alpha again"}, // a duplicate overwrites
}

var nestedTree = map[string]string{
	"data/": "", "data/train/": "", "data/train/a.txt": "alpha again", "data/test/": "", "data/test/b/": "",
	"data/test/b/c.txt": "gamma", "top.txt": "top", "win/": "", "win/style/": "", "win/style/path.txt": "backslashes",
}

func TestExtract(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"d.zip", makeZip(t, nested)},
		{"d.ZIP", makeZip(t, nested)},
		{"d.tar", makeTar(t, nested, false)},
		{"d.tar.gz", makeTar(t, nested, true)},
		{"d.tgz", makeTar(t, nested, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			archive := filepath.Join(tmp, tc.name)
			require.NoError(t, os.WriteFile(archive, tc.data, 0o644))
			require.True(t, IsArchive(archive))
			dst := filepath.Join(tmp, "out", "deeper")
			files, err := Extract(archive, dst, DefaultLimits)
			require.NoError(t, err)
			slices.Sort(files)
			want := []string{"data/test/b/c.txt", "data/train/a.txt", "top.txt", "win/style/path.txt"}
			for i := range want {
				want[i] = filepath.FromSlash(want[i])
			}
			require.Equal(t, want, files)
			require.Equal(t, nestedTree, tree(t, dst))
		})
	}
}

func TestExtractTarModes(t *testing.T) {
	tmp := t.TempDir()
	archive := filepath.Join(tmp, "m.tar")
	require.NoError(t, os.WriteFile(archive, makeTar(t, []entry{
		{name: "./"},
		{name: "run.sh", body: "#!/bin/sh", mode: 0o777},
		{name: "secret", body: "s", mode: 0o400},
	}, false), 0o644))
	dst := filepath.Join(tmp, "out")
	_, err := Extract(archive, dst, DefaultLimits)
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dst, "run.sh"))
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o755), st.Mode().Perm(), "executable kept, never writable by others")
	st, err = os.Stat(filepath.Join(dst, "secret"))
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), st.Mode().Perm(), "always readable and writable by the owner")
}

func TestExtractRefuses(t *testing.T) {
	bomb := strings.Repeat("\x00", 4<<20) // 4 MiB of zeros deflate to a few KiB
	small := Limits{MaxEntries: 5, MaxBytes: 1 << 20}
	type tc struct {
		name    string
		entries []entry
		lim     Limits
		msg     string
	}
	common := []tc{
		{"parent", []entry{{name: "ok.txt", body: "x"}, {name: "../evil.txt", body: "x"}}, DefaultLimits, `entry "../evil.txt" points outside the destination`},
		{"parent inside", []entry{{name: "a/../../evil.txt", body: "x"}}, DefaultLimits, "points outside the destination"},
		{"backslash parent", []entry{{name: `..\evil.txt`, body: "x"}}, DefaultLimits, "points outside the destination"},
		{"absolute", []entry{{name: "/tmp/evil.txt", body: "x"}}, DefaultLimits, `entry "/tmp/evil.txt" points outside`},
		{"drive", []entry{{name: `C:\Windows\evil.txt`, body: "x"}}, DefaultLimits, `entry "C:\\Windows\\evil.txt" points outside`},
		{"drive parent", []entry{{name: `c:..\evil.txt`, body: "x"}}, DefaultLimits, "points outside"},
		{"symlink", []entry{{name: "link", mode: fs.ModeSymlink | 0o777, link: "/etc/passwd"}}, DefaultLimits, `entry "link" is a link`},
		{"symlink then write", []entry{{name: "d", mode: fs.ModeSymlink | 0o777, link: ".."}, {name: "d/evil.txt", body: "x"}}, DefaultLimits, `entry "d" is a link`},
		{"too many entries", slices.Repeat([]entry{{name: "f", body: "x"}}, 6), small, "has more than 5 entries"},
		{"too many bytes", []entry{{name: "bomb", body: bomb}}, small, "expands to more than 1048576 bytes"},
		{"too many bytes in all", []entry{{name: "a", body: bomb[:600<<10]}, {name: "b", body: bomb[:600<<10]}}, small, "expands to more than 1048576 bytes"},
	}
	run := func(t *testing.T, name string, data []byte, c tc) {
		tmp := t.TempDir()
		archive := filepath.Join(tmp, name)
		require.NoError(t, os.WriteFile(archive, data, 0o644))
		dst := filepath.Join(tmp, "out")
		_, err := Extract(archive, dst, c.lim)
		require.ErrorIs(t, err, ErrUnsafeArchive)
		require.ErrorContains(t, err, c.msg)
		require.ErrorContains(t, err, name)
		// Nothing was written beside the destination, no link anywhere, no oversized file.
		for p, body := range tree(t, tmp) {
			require.True(t, p == name || p == "out/" || strings.HasPrefix(p, "out/"), "wrote %s", p)
			require.NotEqual(t, "LINK", body, p)
			require.LessOrEqual(t, len(body), int(c.lim.MaxBytes), p)
		}
	}
	for _, c := range common {
		t.Run("zip/"+c.name, func(t *testing.T) { run(t, "a.zip", makeZip(t, c.entries), c) })
		t.Run("tgz/"+c.name, func(t *testing.T) { run(t, "a.tgz", makeTar(t, c.entries, true), c) })
	}
	for _, c := range []tc{
		{"hard link", []entry{{name: "f", body: "x"}, {name: "h", hard: true, link: "f"}}, DefaultLimits, `entry "h" is a link`},
		{"hard link outside", []entry{{name: "h", hard: true, link: "/etc/shadow"}}, DefaultLimits, `entry "h" is a link`},
		{"fifo", []entry{{name: "p", typ: tar.TypeFifo}}, DefaultLimits, `entry "p" is not a regular file`},
		{"char device", []entry{{name: "null", typ: tar.TypeChar}}, DefaultLimits, `entry "null" is not a regular file`},
		{"directory with data", []entry{{name: "d/", typ: tar.TypeDir, size: 1 << 40}}, DefaultLimits, "carries 1099511627776 bytes"},
	} {
		t.Run("tar/"+c.name, func(t *testing.T) { run(t, "a.tar", makeTar(t, c.entries, false), c) })
	}
	t.Run("zip/device", func(t *testing.T) {
		run(t, "a.zip", makeZip(t, []entry{{name: "dev", mode: fs.ModeDevice | 0o644}}), tc{lim: DefaultLimits, msg: `entry "dev" is not a regular file`})
	})
}

func TestExtractNotArchives(t *testing.T) {
	tmp := t.TempDir()
	for name, data := range map[string][]byte{
		"x.zip":    []byte("not a zip"),
		"x.tar.gz": []byte("not gzip"),
		"x.tgz":    append([]byte{0x1f, 0x8b}, []byte("broken")...),
		"x.tar":    bytes.Repeat([]byte("garbage!"), 100),
		"x.onnx":   []byte("a model"),
	} {
		archive := filepath.Join(tmp, name)
		require.NoError(t, os.WriteFile(archive, data, 0o644))
		_, err := Extract(archive, filepath.Join(tmp, "out-"+name), DefaultLimits)
		require.Error(t, err, name)
		require.ErrorContains(t, err, name)
		require.NotErrorIs(t, err, ErrUnsafeArchive, name)
	}
	require.False(t, IsArchive("model.onnx"))
	_, err := Extract(filepath.Join(tmp, "missing.zip"), filepath.Join(tmp, "o"), DefaultLimits)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

// A destination that already holds a link cannot be used to write through it.
func TestExtractIntoDirectoryWithLink(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	require.NoError(t, os.Mkdir(outside, 0o755))
	dst := filepath.Join(tmp, "dst")
	require.NoError(t, os.Mkdir(dst, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(dst, "d")))
	archive := filepath.Join(tmp, "a.zip")
	require.NoError(t, os.WriteFile(archive, makeZip(t, []entry{{name: "d/evil.txt", body: "x"}}), 0o644))
	_, err := Extract(archive, dst, DefaultLimits)
	require.Error(t, err)
	require.Empty(t, tree(t, outside))
}

func TestCopyDir(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	for p, body := range map[string]string{"a.txt": "a", "sub/b.txt": "b", "sub/deeper/c.txt": "c"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(src, p), []byte(body), 0o644))
	}
	dst := filepath.Join(tmp, "dst")
	require.NoError(t, CopyDir(src, dst))
	require.Equal(t, map[string]string{"a.txt": "a", "sub/": "", "sub/b.txt": "b", "sub/deeper/": "", "sub/deeper/c.txt": "c"}, tree(t, dst))

	// The source may be named through a link; links inside it are refused.
	require.NoError(t, os.Symlink(src, filepath.Join(tmp, "via-link")))
	require.NoError(t, CopyDir(filepath.Join(tmp, "via-link"), filepath.Join(tmp, "dst2")))
	require.Equal(t, tree(t, dst), tree(t, filepath.Join(tmp, "dst2")))

	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(src, "sub", "passwd")))
	err := CopyDir(src, filepath.Join(tmp, "dst3"))
	require.ErrorContains(t, err, "passwd is a link; copy the files themselves")
	require.NoError(t, os.Remove(filepath.Join(src, "sub", "passwd")))
	require.NoError(t, os.Symlink(tmp, filepath.Join(src, "dirlink")))
	require.ErrorContains(t, CopyDir(src, filepath.Join(tmp, "dst4")), "dirlink is a link")
	require.NoError(t, os.Remove(filepath.Join(src, "dirlink")))

	require.ErrorContains(t, CopyDir(src, filepath.Join(src, "inside")), "which is inside it")
	require.Error(t, CopyDir(filepath.Join(tmp, "missing"), filepath.Join(tmp, "dst5")))
}

func TestCopyFile(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "m.onnx")
	require.NoError(t, os.WriteFile(src, []byte("model"), 0o644))
	dst := filepath.Join(tmp, "run", "model", "model.onnx")
	require.NoError(t, CopyFile(src, dst))
	b, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.Equal(t, "model", string(b))
	require.NoError(t, os.WriteFile(src, []byte("model v2"), 0o644))
	require.NoError(t, CopyFile(src, dst), "replaces")
	b, _ = os.ReadFile(dst)
	require.Equal(t, "model v2", string(b))
	ents, _ := os.ReadDir(filepath.Dir(dst))
	require.Len(t, ents, 1, "no temporary file left")
	require.Error(t, CopyFile(filepath.Join(tmp, "missing"), dst))
}

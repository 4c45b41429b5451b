// Package volume manages run volumes: one directory per run holding its model, dataset, step
// specs, results, artifacts and logs. It copies resources in and extracts archives safely: no
// entry may escape the destination (zip-slip), links are refused, and entry counts and sizes are
// bounded (zip bombs).
package volume

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits bound what an archive may hold.
type Limits struct {
	MaxEntries int
	MaxBytes   int64 // total uncompressed bytes
}

// DefaultLimits suit models and datasets of the size TinyML deals with.
var DefaultLimits = Limits{MaxEntries: 100_000, MaxBytes: 2 << 30}

// ErrUnsafeArchive marks an archive refused for safety: an entry escaping the destination, a
// link, or more entries or bytes than allowed.
var ErrUnsafeArchive = errors.New("unsafe archive")

// IsArchive reports whether the file name is one Extract reads.
func IsArchive(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".zip") || strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".tgz") || strings.HasSuffix(n, ".tar")
}

// Extract unpacks a .zip, .tar, .tar.gz or .tgz archive into dst (created if needed) and returns
// the extracted files' paths relative to dst. Entries are written through an os.Root on dst, so
// nothing lands outside it even if dst already holds links. An archive refused part-way
// (ErrUnsafeArchive, or a read error) leaves the entries extracted before the refusal in dst
// (never the refused one): remove dst when Extract fails.
func Extract(archive, dst string, lim Limits) ([]string, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	x := &extractor{root: root, lim: lim, name: filepath.Base(archive), seen: map[string]bool{}, dirs: map[string]bool{}}
	n := strings.ToLower(archive)
	switch {
	case strings.HasSuffix(n, ".zip"):
		err = x.zip(archive)
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"), strings.HasSuffix(n, ".tar"):
		err = x.tar(archive, !strings.HasSuffix(n, ".tar"))
	default:
		err = fmt.Errorf("%s: not an archive (.zip, .tar, .tar.gz or .tgz)", archive)
	}
	if err != nil {
		return nil, err
	}
	return x.files, nil
}

type extractor struct {
	root    *os.Root
	lim     Limits
	name    string
	entries int
	bytes   int64
	files   []string
	seen    map[string]bool // files extracted
	dirs    map[string]bool // directories made
}

// mkdirAll makes a directory and its parents inside the destination, once.
func (x *extractor) mkdirAll(dir string) error {
	if dir == "." || x.dirs[dir] {
		return nil
	}
	if err := x.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", x.name, err)
	}
	x.dirs[dir] = true
	return nil
}

// clean checks an entry name: relative, inside the destination, no parent references, no drive
// letter (C:\x extracts as a file named "C:" elsewhere than on Windows: refused everywhere).
func (x *extractor) clean(name string) (string, error) {
	orig := name
	name = strings.ReplaceAll(name, "\\", "/")
	p := path.Clean(name)
	drive := len(name) >= 2 && name[1] == ':' && ('a' <= name[0]|0x20 && name[0]|0x20 <= 'z')
	if name == "" || drive || strings.HasPrefix(name, "/") || p == ".." || strings.HasPrefix(p, "../") || strings.ContainsRune(name, 0) || !filepath.IsLocal(filepath.FromSlash(p)) {
		return "", fmt.Errorf("%w: %s: entry %q points outside the destination", ErrUnsafeArchive, x.name, orig)
	}
	return filepath.FromSlash(p), nil
}

func (x *extractor) count() error {
	x.entries++
	if x.lim.MaxEntries > 0 && x.entries > x.lim.MaxEntries {
		return fmt.Errorf("%w: %s has more than %d entries", ErrUnsafeArchive, x.name, x.lim.MaxEntries)
	}
	return nil
}

func (x *extractor) write(rel string, r io.Reader, mode fs.FileMode) error {
	if err := x.mkdirAll(filepath.Dir(rel)); err != nil {
		return err
	}
	// Readable and writable by the owner, never writable by others, executable as archived.
	f, err := x.root.OpenFile(rel, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, (mode.Perm()|0o600)&^0o022)
	if err != nil {
		return fmt.Errorf("%s: entry %s: %w", x.name, rel, err)
	}
	budget := int64(-1)
	if x.lim.MaxBytes > 0 {
		budget = x.lim.MaxBytes - x.bytes
	}
	var n int64
	if budget >= 0 {
		n, err = io.Copy(f, io.LimitReader(r, budget+1))
	} else {
		n, err = io.Copy(f, r)
	}
	x.bytes += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		x.root.Remove(rel)
		return fmt.Errorf("%s: entry %s: %w", x.name, rel, err)
	}
	if budget >= 0 && n > budget {
		x.root.Remove(rel) // do not leave the bomb's first gigabytes behind
		return fmt.Errorf("%w: %s expands to more than %d bytes", ErrUnsafeArchive, x.name, x.lim.MaxBytes)
	}
	if !x.seen[rel] { // a later entry of the same name overwrote it
		x.seen[rel] = true
		x.files = append(x.files, rel)
	}
	return nil
}

func (x *extractor) zip(archive string) error {
	zr, err := zip.OpenReader(archive)
	if errors.Is(err, zip.ErrInsecurePath) {
		// With GODEBUG=zipinsecurepath=0 the reader flags unsafe names but still opens the
		// archive; every name is checked below, and the refusal names the entry.
		err = nil
	}
	if err != nil {
		return fmt.Errorf("%s: not a readable zip archive: %w", x.name, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if err := x.count(); err != nil {
			return err
		}
		rel, err := x.clean(f.Name)
		if err != nil {
			return err
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := x.mkdirAll(rel); err != nil {
				return err
			}
			continue
		case mode&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s: entry %q is a link; archives may hold only files and directories", ErrUnsafeArchive, x.name, f.Name)
		case !mode.IsRegular():
			return fmt.Errorf("%w: %s: entry %q is not a regular file", ErrUnsafeArchive, x.name, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: entry %s: %w", x.name, f.Name, err)
		}
		err = x.write(rel, rc, mode)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) tar(archive string, gz bool) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: not a gzip file: %w", x.name, err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: not a readable tar archive: %w", x.name, err)
		}
		if err := x.count(); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader { // PAX defaults, read by the tar reader itself
			continue
		}
		rel, err := x.clean(h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if h.Size > 0 { // the reader would inflate and skip it: a cheap time bomb
				return fmt.Errorf("%w: %s: directory entry %q carries %d bytes of data", ErrUnsafeArchive, x.name, h.Name, h.Size)
			}
			if err := x.mkdirAll(rel); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := x.write(rel, tr, fs.FileMode(h.Mode)); err != nil {
				return err
			}
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("%w: %s: entry %q is a link; archives may hold only files and directories", ErrUnsafeArchive, x.name, h.Name)
		default:
			return fmt.Errorf("%w: %s: entry %q is not a regular file", ErrUnsafeArchive, x.name, h.Name)
		}
	}
}

// CopyFile copies src to dst (parents created), through a temporary name.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Readable by the job's unprivileged user in a container (CreateTemp makes 0600 files).
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// CopyDir copies a directory tree of regular files. Links inside it are refused (they could
// point anywhere); src itself may be a link to a directory.
func CopyDir(src, dst string) error {
	if fi, err := os.Lstat(src); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(src)
		if err != nil {
			return err
		}
		src = real
	}
	if as, err := filepath.Abs(src); err == nil {
		if ad, err := filepath.Abs(dst); err == nil {
			if r, err := filepath.Rel(as, ad); err == nil && filepath.IsLocal(r) {
				return fmt.Errorf("cannot copy %s into %s, which is inside it", src, dst)
			}
		}
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a link; copy the files themselves", p)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		}
		return CopyFile(p, target)
	})
}

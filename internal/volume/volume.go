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
// the extracted files' paths relative to dst.
func Extract(archive, dst string, lim Limits) ([]string, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	x := &extractor{root: root, lim: lim, name: filepath.Base(archive)}
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
}

// clean checks an entry name: relative, inside the destination, no parent references.
func (x *extractor) clean(name string) (string, error) {
	name = strings.ReplaceAll(name, "\\", "/")
	p := path.Clean(name)
	if name == "" || strings.HasPrefix(name, "/") || p == ".." || strings.HasPrefix(p, "../") || strings.ContainsRune(name, 0) || !filepath.IsLocal(filepath.FromSlash(p)) {
		return "", fmt.Errorf("%w: %s: entry %q points outside the destination", ErrUnsafeArchive, x.name, name)
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
	if dir := filepath.Dir(rel); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := x.root.OpenFile(rel, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm()|0o600)
	if err != nil {
		return err
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
		return fmt.Errorf("%s: entry %s: %w", x.name, rel, err)
	}
	if budget >= 0 && n > budget {
		return fmt.Errorf("%w: %s expands to more than %d bytes", ErrUnsafeArchive, x.name, x.lim.MaxBytes)
	}
	x.files = append(x.files, rel)
	return nil
}

func (x *extractor) zip(archive string) error {
	zr, err := zip.OpenReader(archive)
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
			if err := x.root.MkdirAll(rel, 0o755); err != nil {
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
		rel, err := x.clean(h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := x.root.MkdirAll(rel, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := x.write(rel, tr, fs.FileMode(h.Mode)); err != nil {
				return err
			}
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("%w: %s: entry %q is a link; archives may hold only files and directories", ErrUnsafeArchive, x.name, h.Name)
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
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
	return os.Rename(tmp.Name(), dst)
}

// CopyDir copies a directory tree of regular files (links are refused).
func CopyDir(src, dst string) error {
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

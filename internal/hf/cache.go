package hf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The cache is huggingface_hub's layout, so Python tools and this client share downloads:
//
//	CACHE/
//	  CACHEDIR.TAG
//	  models--org--name/                 (datasets--org--name/ for datasets)
//	    blobs/<etag>                      file contents, named by the Hub's ETag: the sha256 of
//	                                      an LFS file, the git blob sha1 of any other
//	    refs/<revision>                   the commit a branch or tag pointed at (no newline)
//	    snapshots/<commit>/<path>         a relative symlink to ../../blobs/<etag> (a copy when
//	                                      symlinks are off)
//
// Blobs are written to a unique <etag>.<random>.incomplete file beside their final name and
// renamed into place once complete and verified, so a reader never sees a partial file and
// concurrent downloads (other processes, Python's) cannot corrupt one another.

var commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

// IsCommit reports whether rev is a full commit hash.
func IsCommit(rev string) bool { return commitRe.MatchString(rev) }

// DefaultCacheDir is where huggingface_hub keeps its cache: $HF_HUB_CACHE, else
// $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
func DefaultCacheDir() string {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(v); d != "" {
			return expandHome(d)
		}
	}
	return filepath.Join(hfHome(), "hub")
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func hfHome() string {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(expandHome(d), "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "huggingface")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// repoDir is the repository's folder in the cache.
func (c *Client) repoDir(r Repo) string { return filepath.Join(c.cacheDir, r.folder()) }

// snapshotPath is where a file of a commit is found in the cache.
func (c *Client) snapshotPath(r Repo, commit, file string) string {
	return filepath.Join(c.repoDir(r), "snapshots", commit, filepath.FromSlash(file))
}

// cachedCommit is the commit a revision resolved to when last online: the revision itself when
// it is a commit, else refs/<revision>.
func (c *Client) cachedCommit(r Repo, rev string) (string, bool) {
	if IsCommit(rev) {
		_, err := os.Stat(filepath.Join(c.repoDir(r), "snapshots", rev))
		return rev, err == nil
	}
	if checkRevision(rev) != nil {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(c.repoDir(r), "refs", filepath.FromSlash(rev)))
	if err != nil {
		return "", false
	}
	commit := strings.TrimSpace(string(b))
	return commit, IsCommit(commit)
}

// cachedFile finds a file of a revision in the cache.
func (c *Client) cachedFile(r Repo, rev, file string) (string, string, bool) {
	commit, ok := c.cachedCommit(r, rev)
	if !ok {
		return "", "", false
	}
	p := c.snapshotPath(r, commit, file)
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p, commit, true
	}
	return "", commit, false
}

// cachedFiles lists the files of a cached snapshot, slash-separated and sorted.
func (c *Client) cachedFiles(r Repo, commit string) ([]string, error) {
	root := filepath.Join(c.repoDir(r), "snapshots", commit)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	return files, err
}

// writeRef records which commit a branch or tag points at (nothing for a commit).
func (c *Client) writeRef(r Repo, rev, commit string) error {
	if rev == commit || checkRevision(rev) != nil {
		return nil
	}
	p := filepath.Join(c.repoDir(r), "refs", filepath.FromSlash(rev))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	return writeAtomic(p, []byte(commit))
}

// tagCache marks the cache folder for backup tools (the Cache Directory Tagging Standard), as
// huggingface_hub does.
func (c *Client) tagCache() {
	p := filepath.Join(c.cacheDir, "CACHEDIR.TAG")
	if _, err := os.Stat(p); err == nil {
		return
	}
	_ = writeAtomic(p, []byte("Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by a Hugging Face Hub client.\n"))
}

// link makes snapshots/<commit>/<file> point at blobs/<etag>: a relative symlink, or a copy
// when symlinks are off or refused by the file system. It replaces whatever is there atomically.
func (c *Client) link(blob, pointer string) error {
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%s.tmp", pointer, randomSuffix())
	if c.symlinks {
		rel, err := filepath.Rel(filepath.Dir(pointer), blob)
		if err == nil {
			if err = os.Symlink(rel, tmp); err == nil {
				if err = os.Rename(tmp, pointer); err == nil {
					return nil
				}
				os.Remove(tmp)
			}
		}
		c.log.Debug("hf: symlink refused, copying the blob instead", "pointer", pointer, "err", err)
	}
	if err := copyFile(blob, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeAtomic writes a small file through a temporary sibling and a rename.
func writeAtomic(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%s.tmp", p, randomSuffix())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// isRegular reports whether p exists and is (or links to) a regular file.
func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

var errNotCached = errors.New("not cached")

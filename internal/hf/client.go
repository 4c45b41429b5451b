// Package hf is a client of the Hugging Face Hub: it resolves references such as
// hf://tinyml/digits-cnn@v1/model.onnx to a commit, verifies that the repository can be read,
// and downloads files into huggingface_hub's cache layout (see cache.go), so Python tools and
// this client share one cache.
//
// It speaks the Hub's HTTP API:
//
//	GET  /api/{models|datasets}/{id}/revision/{rev}   repository info: the commit (sha), gated, private, siblings
//	GET  /api/{models|datasets}/{id}/auth-check       may this token read a gated repository?
//	GET  /api/{models|datasets}/{id}/tree/{rev}?recursive=true   the files, paginated by a Link header
//	HEAD /[datasets/]{id}/resolve/{commit}/{path}      X-Repo-Commit, ETag / X-Linked-Etag, size; LFS files redirect to a CDN
//	GET  the same URL, or the CDN location             the content
//
// Configuration follows huggingface_hub's environment: HF_ENDPOINT, HF_TOKEN (then the token file
// $HF_TOKEN_PATH or $HF_HOME/token), HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE and
// HF_HUB_DISABLE_SYMLINKS; options override them. The token is only ever sent to the endpoint's
// own origin: redirects to another host (the CDN of LFS files) are followed without it.
package hf

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// DefaultEndpoint is the public Hub.
const DefaultEndpoint = "https://huggingface.co"

// DefaultMaxFileSize bounds one downloaded file (2 GiB); WithMaxFileSize changes it.
const DefaultMaxFileSize int64 = 2 << 30

// Client talks to one Hub endpoint and keeps files in one cache. It is safe for concurrent use;
// concurrent requests for the same file share one download.
type Client struct {
	endpoint    *url.URL
	token       string
	tokenSource string // where the token came from, for messages ("HF_TOKEN", a file, ...)
	cacheDir    string
	offline     bool
	symlinks    bool
	maxFileSize int64
	timeout     time.Duration
	idle        time.Duration
	userAgent   string
	http        *http.Client
	log         *slog.Logger
	group       singleflight.Group
}

// Option configures New.
type Option func(*Client) error

// WithEndpoint sets the Hub's base URL (default $HF_ENDPOINT, else https://huggingface.co).
func WithEndpoint(u string) Option {
	return func(c *Client) error {
		e, err := parseEndpoint(u)
		if err != nil {
			return err
		}
		c.endpoint = e
		return nil
	}
}

// WithToken sets the access token (default $HF_TOKEN, else the token file of
// `hf auth login`); "" sends no token at all.
func WithToken(token string) Option {
	return func(c *Client) error {
		c.token, c.tokenSource = cleanToken(token), "the client's options"
		return nil
	}
}

// WithCacheDir sets the cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub, else
// ~/.cache/huggingface/hub).
func WithCacheDir(dir string) Option {
	return func(c *Client) error {
		if dir == "" {
			return errors.New("hf: empty cache directory")
		}
		c.cacheDir = expandHome(dir)
		return nil
	}
}

// WithOffline uses the cache only, never the network (default: $HF_HUB_OFFLINE).
func WithOffline(on bool) Option { return func(c *Client) error { c.offline = on; return nil } }

// WithSymlinks chooses between symlinks (the default, unless $HF_HUB_DISABLE_SYMLINKS) and
// copies for the snapshot files.
func WithSymlinks(on bool) Option { return func(c *Client) error { c.symlinks = on; return nil } }

// WithMaxFileSize bounds the size of one downloaded file (default DefaultMaxFileSize).
func WithMaxFileSize(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("hf: size limit %d: it must be positive", n)
		}
		c.maxFileSize = n
		return nil
	}
}

// WithTimeout bounds each metadata request (repository info, listing, HEAD; default 30s) and
// how long a download may go without receiving a byte (default 60s); a download as a whole is
// bounded by the caller's context only.
func WithTimeout(metadata, idle time.Duration) Option {
	return func(c *Client) error {
		if metadata <= 0 || idle <= 0 {
			return fmt.Errorf("hf: timeouts %v and %v: they must be positive", metadata, idle)
		}
		c.timeout, c.idle = metadata, idle
		return nil
	}
}

// WithHTTPClient sets the HTTP client (its transport, proxy and TLS settings are used; its
// redirect policy is replaced, as the client follows redirects itself to keep the token on the
// Hub's own host).
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error {
		if h == nil {
			return errors.New("hf: nil HTTP client")
		}
		c.http = h
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *Client) error { c.log = l; return nil } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) error { c.userAgent = ua; return nil } }

// New makes a client configured from the environment, then from the options.
func New(opts ...Option) (*Client, error) {
	c := &Client{
		cacheDir:    DefaultCacheDir(),
		offline:     envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE"),
		symlinks:    !envTrue("HF_HUB_DISABLE_SYMLINKS"),
		maxFileSize: DefaultMaxFileSize,
		timeout:     30 * time.Second,
		idle:        60 * time.Second,
		userAgent:   "tinyml-hf/1 (Go)",
		http:        http.DefaultClient,
		log:         slog.New(slog.DiscardHandler),
	}
	ep := DefaultEndpoint
	if e := os.Getenv("HF_ENDPOINT"); e != "" {
		ep = e
	}
	var err error
	if c.endpoint, err = parseEndpoint(ep); err != nil {
		return nil, fmt.Errorf("HF_ENDPOINT: %w", err)
	}
	c.token, c.tokenSource = tokenFromEnvironment()
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	hc := *c.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	return c, nil
}

// Endpoint is the Hub's base URL.
func (c *Client) Endpoint() string { return c.endpoint.String() }

// CacheDir is the cache folder.
func (c *Client) CacheDir() string { return c.cacheDir }

// Offline reports whether the client uses the cache only.
func (c *Client) Offline() bool { return c.offline }

// HasToken reports whether requests to the Hub carry a token, and where it came from.
func (c *Client) HasToken() (bool, string) { return c.token != "", c.tokenSource }

func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("hf: endpoint %q: give a base URL such as https://huggingface.co", s)
	}
	return u, nil
}

func envTrue(name string) bool {
	switch strings.ToUpper(strings.TrimSpace(os.Getenv(name))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

func cleanToken(t string) string {
	return strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(t))
}

// tokenFromEnvironment finds the token as huggingface_hub does: HF_TOKEN, then the legacy
// HUGGING_FACE_HUB_TOKEN, then the file written by `hf auth login` ($HF_TOKEN_PATH, else
// $HF_HOME/token).
func tokenFromEnvironment() (string, string) {
	for _, v := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := cleanToken(os.Getenv(v)); t != "" {
			return t, v
		}
	}
	p := os.Getenv("HF_TOKEN_PATH")
	if p == "" {
		p = filepath.Join(hfHome(), "token")
	}
	p = expandHome(p)
	if b, err := os.ReadFile(p); err == nil {
		if t := cleanToken(string(b)); t != "" {
			return t, "the token file " + p
		}
	}
	return "", ""
}

// RepoInfo is what the Hub says of a repository at a revision.
type RepoInfo struct {
	ID       string    `json:"id"`
	SHA      string    `json:"sha"` // the commit the revision points at
	Private  bool      `json:"private"`
	Gated    Gated     `json:"gated"`
	Disabled bool      `json:"disabled"`
	Siblings []Sibling `json:"siblings"`
}

// Sibling is a file named in the repository info.
type Sibling struct {
	RFilename string `json:"rfilename"`
}

// Gated is the repository's gating: "" (not gated), "auto" or "manual". The Hub sends false or
// a string.
type Gated string

// UnmarshalJSON reads false, true or a string.
func (g *Gated) UnmarshalJSON(b []byte) error {
	switch s := string(b); s {
	case "false", "null":
		*g = ""
		return nil
	case "true":
		*g = "true"
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*g = Gated(s)
	return nil
}

// File is an entry of a repository's tree.
type File struct {
	Type string `json:"type"` // "file" or "directory"
	Path string `json:"path"`
	Size int64  `json:"size"`
	OID  string `json:"oid"` // the git blob id
	LFS  *LFS   `json:"lfs,omitempty"`
}

// LFS describes a file stored with Git LFS (large files: models, parquet shards).
type LFS struct {
	OID         string `json:"oid"` // sha256 of the content
	Size        int64  `json:"size"`
	PointerSize int64  `json:"pointerSize"`
}

func (c *Client) apiURL(r Repo, parts ...string) string {
	u := c.endpoint.String() + "/api/" + string(r.typ()) + "s/" + r.ID
	for _, p := range parts {
		u += "/" + p
	}
	return u
}

// PageURL is the repository's web page.
func (c *Client) PageURL(r Repo) string {
	return c.endpoint.String() + "/" + r.typ().urlPrefix() + r.ID
}

func (c *Client) resolveURL(r Repo, rev, file string) string {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.PageURL(r) + "/resolve/" + url.PathEscape(rev) + "/" + strings.Join(segs, "/")
}

// Info fetches the repository's info at a revision (branch, tag or commit; "" is main). It
// fails with ErrRepoNotFound for a repository that does not exist or that the token cannot read,
// and ErrRevisionNotFound for an unknown revision.
func (c *Client) Info(ctx context.Context, r Repo, rev string) (*RepoInfo, error) {
	if rev == "" {
		rev = DefaultRevision
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := checkRevision(rev); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRef, err)
	}
	if c.offline {
		return nil, c.offlineErr(r, rev, "")
	}
	var info RepoInfo
	if err := c.getJSON(ctx, r, rev, c.apiURL(r, "revision", url.PathEscape(rev)), 16<<20, &info); err != nil {
		return nil, err
	}
	if !IsCommit(info.SHA) {
		return nil, fmt.Errorf("%w: %s: the Hub at %s answered without the commit of %q; check HF_ENDPOINT and any proxy in between", ErrUnreachable, r, c.endpoint, rev)
	}
	return &info, nil
}

// Verify checks, before anything is downloaded, that the repository exists at the revision and
// that this client may read it: for a gated repository it asks the Hub whether the token's
// account was granted access (ErrGated when not, saying what to do). It returns the info.
func (c *Client) Verify(ctx context.Context, r Repo, rev string) (*RepoInfo, error) {
	info, err := c.Info(ctx, r, rev)
	if err != nil {
		return nil, err
	}
	if info.Disabled {
		return nil, &Error{Kind: ErrForbidden, Repo: r, Status: http.StatusOK, Hint: "the repository is disabled on the Hub; it cannot be downloaded"}
	}
	if info.Gated != "" {
		if err := c.authCheck(ctx, r); err != nil {
			return nil, err
		}
	}
	return info, nil
}

func (c *Client) authCheck(ctx context.Context, r Repo) error {
	err := c.getJSON(ctx, r, "", c.apiURL(r, "auth-check"), 1<<20, nil)
	var he *Error
	if errors.As(err, &he) && he.Status == http.StatusNotFound && he.Code == "" {
		// A mirror without the auth-check route: the download itself will tell.
		c.log.Debug("hf: the endpoint has no auth-check route", "repo", r)
		return nil
	}
	return err
}

// ListFiles lists the files of the repository at a revision (recursively, following the Hub's
// pagination).
func (c *Client) ListFiles(ctx context.Context, r Repo, rev string) ([]File, error) {
	if rev == "" {
		rev = DefaultRevision
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if c.offline {
		commit, ok := c.cachedCommit(r, rev)
		if !ok {
			return nil, c.offlineErr(r, rev, "")
		}
		names, err := c.cachedFiles(r, commit)
		if err != nil {
			return nil, err
		}
		files := make([]File, len(names))
		for i, n := range names {
			files[i] = File{Type: "file", Path: n}
			if st, err := os.Stat(c.snapshotPath(r, commit, n)); err == nil {
				files[i].Size = st.Size()
			}
		}
		return files, nil
	}
	next := c.apiURL(r, "tree", url.PathEscape(rev)) + "?recursive=true&expand=false"
	var files []File
	for pages := 0; next != ""; pages++ {
		if pages > 10000 {
			return nil, fmt.Errorf("%s: the tree listing does not end after %d pages", r, pages)
		}
		var page []File
		link, err := c.getJSONLink(ctx, r, rev, next, 64<<20, &page)
		if err != nil {
			return nil, err
		}
		for _, f := range page {
			if f.Type != "file" && f.Type != "" {
				continue
			}
			if err := checkPath(f.Path); err != nil { // it becomes a path in the cache
				c.log.Warn("hf: skipping a file the Hub listed with an unusable path", "repo", r, "err", err)
				continue
			}
			files = append(files, f)
		}
		next = link
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// Download puts one file of the repository at a revision into the cache and returns its local
// path (snapshots/<commit>/<file>). A file already cached for that commit is used as it is, and
// a blob already cached (same ETag, another commit) is linked rather than downloaded again.
func (c *Client) Download(ctx context.Context, r Repo, rev, file string) (string, error) {
	f, err := c.Fetch(ctx, Ref{Repo: r, Revision: rev, Path: file})
	if err != nil {
		return "", err
	}
	if f.File != file {
		return "", &Error{Kind: ErrEntryNotFound, Repo: r, Status: http.StatusNotFound, Hint: fmt.Sprintf("no file %q at revision %q (it is a folder)", file, f.Ref.Rev())}
	}
	return f.Path, nil
}

// Fetched is a reference resolved and downloaded.
type Fetched struct {
	Ref    Ref    `json:"ref"`    // as asked
	Commit string `json:"commit"` // the commit the revision resolved to
	File   string `json:"file"`   // the file picked, relative to the repository
	Path   string `json:"path"`   // the file in the cache
	Cached bool   `json:"cached"` // served from the cache without asking the Hub
}

// Fetch resolves a reference and downloads the file it stands for (see Pick for a reference
// that names a folder or nothing). It first verifies access (Verify). Offline, or when the Hub
// cannot be reached, it serves the cache; a missing file is then ErrOffline or ErrUnreachable.
func (c *Client) Fetch(ctx context.Context, ref Ref) (*Fetched, error) {
	if err := ref.Repo.Validate(); err != nil {
		return nil, err
	}
	if ref.Type == "" {
		ref.Type = Model
	}
	rev := ref.Rev()
	if err := checkRevision(rev); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRef, err)
	}
	if ref.Path != "" {
		if err := checkPath(ref.Path); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRef, err)
		}
	}
	if c.offline {
		f, err := c.fromCache(ref)
		if errors.Is(err, errNotCached) {
			return nil, c.offlineErr(ref.Repo, rev, ref.Path)
		}
		return f, err
	}
	// A file of a commit never changes: once cached, no question to the Hub is needed.
	if IsCommit(rev) && ref.Path != "" {
		if p := c.snapshotPath(ref.Repo, rev, ref.Path); isRegular(p) {
			return &Fetched{Ref: ref, Commit: rev, File: ref.Path, Path: p, Cached: true}, nil
		}
	}
	info, err := c.Verify(ctx, ref.Repo, rev)
	if errors.Is(err, ErrUnreachable) {
		if f, cerr := c.fromCache(ref); cerr == nil {
			c.log.Warn("hf: the Hub cannot be reached; using the cached file", "ref", ref.String(), "commit", f.Commit, "err", err)
			return f, nil
		}
	}
	if err != nil {
		return nil, err
	}
	commit := info.SHA
	if err := c.writeRef(ref.Repo, rev, commit); err != nil {
		c.log.Debug("hf: cannot record the revision in the cache", "err", err)
	}
	file := ref.Path
	named := file != "" && slices.ContainsFunc(info.Siblings, func(s Sibling) bool { return s.RFilename == file })
	if !named {
		list, err := c.ListFiles(ctx, ref.Repo, commit)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(list))
		for i, f := range list {
			names[i] = f.Path
		}
		if file, err = Pick(Ref{Repo: ref.Repo, Revision: ref.Revision, Path: ref.Path}, names); err != nil {
			return nil, err
		}
	}
	p, err := c.fetchFile(ctx, ref.Repo, rev, commit, file)
	if err != nil {
		return nil, err
	}
	return &Fetched{Ref: ref, Commit: commit, File: file, Path: p}, nil
}

// Snapshot downloads every file of the repository at a revision and returns the snapshot
// folder (snapshots/<commit>), as huggingface_hub's snapshot_download does.
func (c *Client) Snapshot(ctx context.Context, r Repo, rev string) (string, string, error) {
	if rev == "" {
		rev = DefaultRevision
	}
	if c.offline {
		commit, ok := c.cachedCommit(r, rev)
		if !ok {
			return "", "", c.offlineErr(r, rev, "")
		}
		return filepath.Join(c.repoDir(r), "snapshots", commit), commit, nil
	}
	info, err := c.Verify(ctx, r, rev)
	if err != nil {
		if commit, ok := c.cachedCommit(r, rev); ok && errors.Is(err, ErrUnreachable) {
			c.log.Warn("hf: the Hub cannot be reached; using the cached snapshot", "repo", r, "commit", commit, "err", err)
			return filepath.Join(c.repoDir(r), "snapshots", commit), commit, nil
		}
		return "", "", err
	}
	if err := c.writeRef(r, rev, info.SHA); err != nil {
		c.log.Debug("hf: cannot record the revision in the cache", "err", err)
	}
	files, err := c.ListFiles(ctx, r, info.SHA)
	if err != nil {
		return "", "", err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, f := range files {
		g.Go(func() error {
			_, err := c.fetchFile(gctx, r, rev, info.SHA, f.Path)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return "", "", err
	}
	dir := filepath.Join(c.repoDir(r), "snapshots", info.SHA)
	if err := os.MkdirAll(dir, 0o755); err != nil { // an empty repository still has a snapshot
		return "", "", err
	}
	return dir, info.SHA, nil
}

// fromCache serves a reference from the cache alone (errNotCached when it cannot).
func (c *Client) fromCache(ref Ref) (*Fetched, error) {
	commit, ok := c.cachedCommit(ref.Repo, ref.Rev())
	if !ok {
		return nil, errNotCached
	}
	file := ref.Path
	p := ""
	if file != "" {
		p = c.snapshotPath(ref.Repo, commit, file)
	}
	if p == "" || !isRegular(p) {
		names, err := c.cachedFiles(ref.Repo, commit)
		if err != nil || len(names) == 0 {
			return nil, errNotCached
		}
		if file, err = Pick(ref, names); err != nil {
			if errors.Is(err, ErrAmbiguous) {
				return nil, err
			}
			return nil, errNotCached
		}
		p = c.snapshotPath(ref.Repo, commit, file)
	}
	return &Fetched{Ref: ref, Commit: commit, File: file, Path: p, Cached: true}, nil
}

func (c *Client) offlineErr(r Repo, rev, file string) error {
	what := r.String() + "@" + rev
	if file != "" {
		what += "/" + file
	}
	return fmt.Errorf("%w: %s has not been downloaded into %s, and offline mode (HF_HUB_OFFLINE) forbids the network: download it once online (tinyml hf download %s), or unset HF_HUB_OFFLINE",
		ErrOffline, what, c.cacheDir, r.ID+map[bool]string{true: " --repo-type dataset", false: ""}[r.typ() == Dataset])
}

// fetchFile returns the cached file of a commit, downloading it when missing; concurrent calls
// for one file share a download.
func (c *Client) fetchFile(ctx context.Context, r Repo, rev, commit, file string) (string, error) {
	if err := checkPath(file); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadRef, err)
	}
	if !IsCommit(commit) {
		return "", fmt.Errorf("%w: %s: %q is not a commit", ErrUnreachable, r, commit)
	}
	pointer := c.snapshotPath(r, commit, file)
	if isRegular(pointer) {
		return pointer, nil
	}
	v, err, _ := c.group.Do(pointer, func() (any, error) {
		if isRegular(pointer) {
			return pointer, nil
		}
		return pointer, c.download(ctx, r, rev, commit, file, pointer)
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

type fileMeta struct {
	commit   string
	etag     string
	size     int64
	location string
}

var (
	etagRe = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$`)
	hexRe  = regexp.MustCompile(`^[0-9a-f]+$`)
)

func (c *Client) download(ctx context.Context, r Repo, rev, commit, file, pointer string) error {
	meta, err := c.head(ctx, r, rev, commit, file)
	if err != nil {
		return err
	}
	if meta.size > c.maxFileSize {
		return fmt.Errorf("%w: %s/%s is %s, above the limit of %s; raise the size limit if it is what you meant",
			ErrTooLarge, r, file, humanBytes(meta.size), humanBytes(c.maxFileSize))
	}
	blob := filepath.Join(c.repoDir(r), "blobs", meta.etag)
	c.tagCache()
	if st, err := os.Stat(blob); err == nil && st.Mode().IsRegular() && st.Size() == meta.size {
		c.log.Debug("hf: blob already cached", "repo", r, "file", file, "etag", meta.etag)
		return c.link(blob, pointer)
	}
	if err := c.get(ctx, r, file, meta, blob); err != nil {
		return err
	}
	c.log.Info("hf: downloaded", "repo", r, "file", file, "commit", commit, "bytes", meta.size)
	return c.link(blob, pointer)
}

// head asks for a file's metadata without following a redirect to another host: the Hub answers
// LFS files with a redirect to its CDN carrying X-Linked-Etag and X-Linked-Size.
func (c *Client) head(ctx context.Context, r Repo, rev, commit, file string) (fileMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodHead, c.resolveURL(r, commit, file), false)
	if err != nil {
		return fileMeta{}, c.transportErr(ctx, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fileMeta{}, c.fail(resp, nil, r, rev, file)
	}
	h := resp.Header
	m := fileMeta{commit: h.Get("X-Repo-Commit"), etag: normalizeETag(h.Get("X-Linked-Etag"))}
	if m.etag == "" {
		m.etag = normalizeETag(h.Get("ETag"))
	}
	size := h.Get("X-Linked-Size")
	redirect := resp.StatusCode >= 300 && resp.StatusCode < 400
	if size == "" && !redirect {
		size = h.Get("Content-Length")
	}
	if redirect {
		loc, err := resp.Request.URL.Parse(h.Get("Location"))
		if err != nil || h.Get("Location") == "" {
			return fileMeta{}, fmt.Errorf("%w: %s/%s: the Hub redirected to an unusable location %q", ErrUnreachable, r, file, h.Get("Location"))
		}
		m.location = loc.String()
	} else {
		m.location = resp.Request.URL.String()
	}
	problem := ""
	switch n, err := strconv.ParseInt(size, 10, 64); {
	case m.commit == "":
		problem = "no X-Repo-Commit header: this does not look like the Hub"
	case m.commit != commit:
		problem = fmt.Sprintf("it serves commit %s where %s was asked", m.commit, commit)
	case !etagRe.MatchString(m.etag):
		problem = fmt.Sprintf("no usable ETag (%q)", m.etag)
	case err != nil || n < 0:
		problem = fmt.Sprintf("no usable size (%q)", size)
	default:
		m.size = n
	}
	if problem != "" {
		return fileMeta{}, fmt.Errorf("%w: %s/%s: %s; check HF_ENDPOINT (%s) and any proxy or firewall in between", ErrUnreachable, r, file, problem, c.endpoint)
	}
	return m, nil
}

// get downloads the content into blobs/<etag> through a unique .incomplete file, checking its
// size and, when the ETag is a content hash, its hash.
func (c *Client) get(ctx context.Context, r Repo, file string, m fileMeta, blob string) error {
	// A transfer that stalls (no byte for the idle timeout) is abandoned rather than left to hang
	// a pipeline step.
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(c.idle, func() { cancel(errStalled) })
	defer stall.Stop()
	resp, err := c.do(dctx, http.MethodGet, m.location, true)
	if err != nil {
		if errors.Is(context.Cause(dctx), errStalled) {
			return fmt.Errorf("%w: %s/%s: no answer for %v; retry", ErrUnreachable, r, file, c.idle)
		}
		return c.transportErr(ctx, err)
	}
	defer resp.Body.Close()
	resp.Body = &idleReader{ReadCloser: resp.Body, timer: stall, idle: c.idle}
	if resp.StatusCode != http.StatusOK {
		return c.fail(resp, resp.Body, r, "", file)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != m.size {
		return fmt.Errorf("%w: %s/%s: the download announces %d bytes where the Hub said %d", ErrIntegrity, r, file, resp.ContentLength, m.size)
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%s.incomplete", blob, randomSuffix())
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op once renamed
	sum, want := hasherFor(m.etag, m.size)
	w := bufio.NewWriterSize(out, 1<<20)
	var dst io.Writer = w
	if sum != nil {
		dst = io.MultiWriter(w, sum)
	}
	n, err := io.Copy(dst, io.LimitReader(resp.Body, m.size+1))
	if err == nil {
		err = w.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s/%s: download interrupted: %w", r, file, ctx.Err())
		}
		if errors.Is(context.Cause(dctx), errStalled) {
			return fmt.Errorf("%w: %s/%s: the download stalled (no data for %v) after %d of %d bytes; retry", ErrUnreachable, r, file, c.idle, n, m.size)
		}
		return fmt.Errorf("%w: %s/%s: download broke off after %d of %d bytes: %v; retry", ErrUnreachable, r, file, n, m.size, err)
	}
	if n != m.size {
		return fmt.Errorf("%w: %s/%s: received %d bytes where the Hub announced %d; retry", ErrIntegrity, r, file, n, m.size)
	}
	if sum != nil {
		if got := hex.EncodeToString(sum.Sum(nil)); got != want {
			return fmt.Errorf("%w: %s/%s: content hash %s differs from the ETag %s; retry, and if it persists something between here and the Hub alters the file", ErrIntegrity, r, file, got, want)
		}
	}
	return os.Rename(tmp, blob)
}

var errStalled = errors.New("download stalled")

// idleReader pushes the stall timer back on every read that returns data.
type idleReader struct {
	io.ReadCloser
	timer *time.Timer
	idle  time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	return n, err
}

// hasherFor checks content against its ETag: the sha256 of an LFS file (64 hex digits), the git
// blob sha1 of another file (40 hex digits: sha1 of "blob <size>\0" and the content).
func hasherFor(etag string, size int64) (hash.Hash, string) {
	if !hexRe.MatchString(etag) {
		return nil, ""
	}
	switch len(etag) {
	case 64:
		return sha256.New(), etag
	case 40:
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", size)
		return h, etag
	}
	return nil, ""
}

func normalizeETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

func (c *Client) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.endpoint.Scheme) && strings.EqualFold(u.Host, c.endpoint.Host)
}

// do sends a request and follows up to 10 redirects itself. The token goes only to the
// endpoint's origin (scheme, host and port); a redirect elsewhere (the CDN serving LFS files)
// is followed without it, or, when crossHost is false, returned for the caller to read.
func (c *Client) do(ctx context.Context, method, rawURL string, crossHost bool) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", c.userAgent)
		req.Header.Set("Accept-Encoding", "identity") // sizes and hashes are of the file itself
		if c.token != "" && c.sameOrigin(u) {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		loc := resp.Header.Get("Location")
		next, err := u.Parse(loc)
		if loc == "" || err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			return resp, nil
		}
		if !crossHost && !c.sameOrigin(next) {
			return resp, nil
		}
		if hops >= 10 {
			resp.Body.Close()
			return nil, fmt.Errorf("more than 10 redirects from %s", rawURL)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode == http.StatusSeeOther && method != http.MethodHead {
			method = http.MethodGet
		}
		u = next
	}
}

func (c *Client) transportErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w at %s: %v; check the network and any proxy (HTTPS_PROXY), or set HF_HUB_OFFLINE=1 to use cached files only", ErrUnreachable, c.endpoint, err)
}

func (c *Client) getJSON(ctx context.Context, r Repo, rev, u string, limit int64, v any) error {
	_, err := c.getJSONLink(ctx, r, rev, u, limit, v)
	return err
}

// getJSONLink GETs a JSON document and returns the Link header's rel="next" URL, if any.
func (c *Client) getJSONLink(ctx context.Context, r Repo, rev, u string, limit int64, v any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, u, true)
	if err != nil {
		return "", c.transportErr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", c.fail(resp, resp.Body, r, rev, "")
	}
	if v != nil {
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return "", c.transportErr(ctx, err)
		}
		if int64(len(b)) > limit {
			return "", fmt.Errorf("%w: %s: the answer of %s is larger than %d bytes", ErrUnreachable, r, u, limit)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return "", fmt.Errorf("%w: %s: the answer of %s is not the Hub's JSON (%v); check HF_ENDPOINT and any proxy", ErrUnreachable, r, u, err)
		}
	}
	next := nextLink(resp.Header.Values("Link"))
	if next != "" {
		nu, err := resp.Request.URL.Parse(next)
		if err != nil {
			return "", fmt.Errorf("%w: %s: unusable pagination link %q", ErrUnreachable, r, next)
		}
		next = nu.String()
	}
	return next, nil
}

// nextLink reads `<URL>; rel="next"` from Link headers (RFC 8288, as GitHub and the Hub send).
func nextLink(values []string) string {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && slices.Contains(strings.Fields(strings.ToLower(strings.Trim(val, `"`))), "next") {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// fail turns an unsuccessful answer into an *Error that says what to do.
func (c *Client) fail(resp *http.Response, body io.Reader, r Repo, rev, file string) error {
	e := &Error{Repo: r, Status: resp.StatusCode, Code: resp.Header.Get("X-Error-Code"), Message: resp.Header.Get("X-Error-Message"), URL: resp.Request.URL.String()}
	if body != nil && e.Message == "" {
		b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		var j struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &j) == nil {
			e.Message = j.Error
		}
	}
	if len(e.Message) > 300 {
		e.Message = e.Message[:300] + "…"
	}
	page := c.PageURL(r)
	tokens := c.endpoint.String() + "/settings/tokens"
	var ref string
	if r.typ() == Dataset {
		ref = "hf://datasets/" + r.ID
	} else {
		ref = "hf://" + r.ID + " (a dataset is hf://datasets/" + r.ID + ")"
	}
	cdn := !c.sameOrigin(resp.Request.URL) // another host (the CDN): its errors are about the transfer
	switch {
	case e.Code == "RevisionNotFound":
		e.Kind = ErrRevisionNotFound
		e.Hint = fmt.Sprintf("revision %q does not exist: use a branch, tag or commit of the repository (see %s)", rev, page)
	case e.Code == "EntryNotFound" || (!cdn && resp.StatusCode == http.StatusNotFound && file != "" && e.Code == ""):
		e.Kind = ErrEntryNotFound
		e.Hint = fmt.Sprintf("no file %q at revision %q: check the path (the files are listed at %s)", file, rev, page+"/tree/"+url.PathEscape(orMain(rev)))
	case e.Code == "GatedRepo":
		e.Kind = ErrGated
		if c.token == "" || resp.StatusCode == http.StatusUnauthorized {
			e.Hint = fmt.Sprintf("the repository is gated: log in at %s, accept its terms there, then set HF_TOKEN to a read token of that account (%s)", page, tokens)
			if c.token != "" {
				e.Hint = fmt.Sprintf("the repository is gated and the Hub did not accept the token (from %s) for it: accept the repository's terms at %s with the token's account, and check the token (%s)", c.tokenSource, page, tokens)
			}
		} else {
			e.Hint = fmt.Sprintf("the repository is gated and the account of the token (from %s) has not been granted access: accept its terms (or request access) at %s, then retry once access is granted", c.tokenSource, page)
		}
	case !cdn && resp.StatusCode == http.StatusUnauthorized && strings.Contains(strings.ToLower(e.Message), "invalid credentials"):
		e.Kind = ErrUnauthorized
		e.Hint = fmt.Sprintf("the Hub refused the token (from %s) as invalid or expired: create a read token at %s and set HF_TOKEN to it (or unset it for public repositories)", orNone(c.tokenSource), tokens)
	case e.Code == "RepoNotFound" || (!cdn && resp.StatusCode == http.StatusUnauthorized) || (!cdn && resp.StatusCode == http.StatusNotFound && file == ""):
		e.Kind = ErrRepoNotFound
		if c.token == "" {
			e.Hint = fmt.Sprintf("repository not found, or it is private and no token was sent: check the name %s, or if it is private set HF_TOKEN to a token with read access (%s)", ref, tokens)
		} else {
			e.Hint = fmt.Sprintf("repository not found, or the token (from %s) cannot read it: check the name %s, or use a token with read access to it (%s)", c.tokenSource, ref, tokens)
		}
	case !cdn && resp.StatusCode == http.StatusForbidden:
		e.Kind = ErrForbidden
		e.Hint = fmt.Sprintf("the token (from %s) may not read this repository: give it read access to it (fine-grained tokens list the repositories they may read) at %s", orNone(c.tokenSource), tokens)
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = ErrUnreachable
		e.Hint = "the Hub is rate limiting these requests: wait a little and retry (authenticated requests, with HF_TOKEN, get a higher limit)"
	case resp.StatusCode >= 500:
		e.Kind = ErrUnreachable
		e.Hint = "the Hub answered with a server error: retry later, or set HF_HUB_OFFLINE=1 to use cached files only"
	default:
		e.Kind = ErrUnreachable
		e.Hint = fmt.Sprintf("unexpected answer from %s", resp.Request.URL.Host)
	}
	return e
}

func orMain(rev string) string {
	if rev == "" {
		return DefaultRevision
	}
	return rev
}

func orNone(s string) string {
	if s == "" {
		return "nowhere (none is set)"
	}
	return s
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Package hftest is a fake Hugging Face Hub for tests: an httptest server that speaks the part of
// the Hub's HTTP API a download client uses, with the Hub's paths, headers, status codes and JSON
// shapes, plus a second server standing in for the CDN that serves LFS files behind signed URLs.
//
//	GET  /api/{models|datasets}/{ns}/{name}[/revision/{rev}]   repository info (sha, private, gated, siblings, ...)
//	GET  /api/{models|datasets}/{ns}/{name}/auth-check         200, or the gated/private error
//	GET  /api/{models|datasets}/{ns}/{name}/tree/{rev}[/{path}]?recursive=&cursor=   entries, paginated by Link: <...>; rel="next"
//	HEAD|GET /[datasets/]{ns}/{name}/resolve/{rev}/{path}     200 with ETag (git blob sha1) and X-Repo-Commit;
//	                                                          LFS files: 302 to the CDN with X-Linked-Etag (sha256) and X-Linked-Size
//
// Errors carry X-Error-Code (RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound) and
// X-Error-Message with the Hub's wording, and a JSON body {"error": ...}. Access follows the Hub:
// a token not starting with "hf_" is refused as invalid (401); a private repository answers 401
// RepoNotFound without a token and 404 with a token that may not read it; a gated repository
// shows its info to anyone but its files answer 401 GatedRepo without a token and 403 with a
// token whose account was not granted access. Tokens listed in Repo.Readers may read.
//
// The CDN refuses a request that carries an Authorization header beside its signed URL (400, as
// S3 does) and records it, so a test can assert the token never leaves the Hub's host.
package hftest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Repo is a repository the fake hub serves.
type Repo struct {
	ID        string            // namespace/name
	Type      string            // "model" (default) or "dataset"
	Files     map[string][]byte // the files of the main branch
	Private   bool              // only Readers may see it
	Gated     string            // "auto" or "manual": anyone sees the info, only Readers get the files
	Readers   []string          // tokens granted access to a private or gated repository
	Revisions []Revision        // further branches and tags, each its own commit
}

// Revision is a branch or tag with its own files.
type Revision struct {
	Name  string
	Files map[string][]byte
}

// Request is one request a server received.
type Request struct {
	Server        string // "hub" or "cdn"
	Method        string
	Path          string // with the query
	Authorization string // the header as received
	Status        int
}

// Hub is a running fake hub.
type Hub struct {
	hub, cdn *httptest.Server
	secret   []byte

	mu       sync.Mutex
	repos    map[string]*repo // by "model:ns/name"
	moved    map[string]string
	requests []Request
	pageSize int
	down     bool
	commits  int
}

type repo struct {
	Repo
	commits map[string]map[string][]byte // commit → files
	refs    map[string]string            // branch or tag → commit
	created time.Time
}

// New starts a fake hub serving the repositories; it stops when the test ends.
func New(t testing.TB, repos ...Repo) *Hub {
	t.Helper()
	h := &Hub{repos: map[string]*repo{}, moved: map[string]string{}, pageSize: 1000, secret: []byte("hftest-cdn-secret")}
	for _, r := range repos {
		h.Add(t, r)
	}
	h.hub = httptest.NewServer(h.record("hub", http.HandlerFunc(h.serveHub)))
	h.cdn = httptest.NewServer(h.record("cdn", http.HandlerFunc(h.serveCDN)))
	t.Cleanup(func() { h.hub.Close(); h.cdn.Close() })
	return h
}

// URL is the hub's endpoint (what HF_ENDPOINT would be).
func (h *Hub) URL() string { return h.hub.URL }

// CDNURL is the CDN's base URL. Its host is "localhost", where the hub's is 127.0.0.1, so the
// two differ by name as well as port.
func (h *Hub) CDNURL() string { return strings.Replace(h.cdn.URL, "127.0.0.1", "localhost", 1) }

// Setenv points huggingface_hub's environment at the hub for the rest of the test: HF_ENDPOINT,
// a fresh HF_HUB_CACHE (returned) and HF_HOME, no token and no offline mode.
func (h *Hub) Setenv(t testing.TB) string {
	t.Helper()
	home := t.TempDir()
	cache := home + "/hub"
	for k, v := range map[string]string{
		"HF_ENDPOINT": h.URL(), "HF_HOME": home, "HF_HUB_CACHE": cache,
		"HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": "", "HF_TOKEN_PATH": "", "HF_HUB_OFFLINE": "",
		"TRANSFORMERS_OFFLINE": "", "HUGGINGFACE_HUB_CACHE": "", "HF_HUB_DISABLE_SYMLINKS": "",
	} {
		t.Setenv(k, v)
		if v == "" {
			os.Unsetenv(k)
		}
	}
	return cache
}

// Add serves another repository (replacing one of the same type and id).
func (h *Hub) Add(t testing.TB, r Repo) {
	t.Helper()
	if r.Type == "" {
		r.Type = "model"
	}
	if r.Type != "model" && r.Type != "dataset" {
		t.Fatalf("hftest: repository type %q", r.Type)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rp := &repo{Repo: r, commits: map[string]map[string][]byte{}, refs: map[string]string{}, created: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	rp.refs["main"] = h.commitLocked(rp, "main", r.Files)
	for _, rev := range r.Revisions {
		rp.refs[rev.Name] = h.commitLocked(rp, rev.Name, rev.Files)
	}
	h.repos[r.Type+":"+r.ID] = rp
}

// Push makes a new commit on the main branch: files are added or replaced, a nil content
// deletes. It returns the commit.
func (h *Hub) Push(t testing.TB, typ, id string, files map[string][]byte) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	rp := h.repos[orModel(typ)+":"+id]
	if rp == nil {
		t.Fatalf("hftest: no repository %s %s", typ, id)
	}
	next := map[string][]byte{}
	for k, v := range rp.commits[rp.refs["main"]] {
		next[k] = v
	}
	for k, v := range files {
		if v == nil {
			delete(next, k)
		} else {
			next[k] = v
		}
	}
	rp.refs["main"] = h.commitLocked(rp, "main", next)
	return rp.refs["main"]
}

// Rename moves a repository: requests for the old id are redirected (307, relative) to the new
// one, as the Hub does after a rename.
func (h *Hub) Rename(t testing.TB, typ, oldID, newID string) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	k := orModel(typ) + ":" + oldID
	rp := h.repos[k]
	if rp == nil {
		t.Fatalf("hftest: no repository %s %s", typ, oldID)
	}
	delete(h.repos, k)
	rp.ID = newID
	h.repos[orModel(typ)+":"+newID] = rp
	h.moved[k] = newID
}

// Commit is the commit a branch or tag of a repository points at.
func (h *Hub) Commit(typ, id, rev string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rp := h.repos[orModel(typ)+":"+id]; rp != nil {
		return rp.refs[rev]
	}
	return ""
}

// SetPageSize sets how many tree entries one page holds (default 1000).
func (h *Hub) SetPageSize(n int) { h.mu.Lock(); h.pageSize = max(n, 1); h.mu.Unlock() }

// SetDown makes the hub answer 503 to everything (the CDN keeps serving).
func (h *Hub) SetDown(down bool) { h.mu.Lock(); h.down = down; h.mu.Unlock() }

// Requests lists the requests received so far, in order.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

// Count counts the requests of a server ("hub", "cdn" or "" for both) and method ("" for any)
// whose path contains the fragment.
func (h *Hub) Count(server, method, fragment string) int {
	n := 0
	for _, r := range h.Requests() {
		if (server == "" || r.Server == server) && (method == "" || r.Method == method) && strings.Contains(r.Path, fragment) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the requests received so far.
func (h *Hub) ResetRequests() { h.mu.Lock(); h.requests = nil; h.mu.Unlock() }

// GitBlobSHA1 is git's object id of a blob: the ETag the Hub gives a file kept in git.
func GitBlobSHA1(b []byte) string {
	s := sha1.New()
	fmt.Fprintf(s, "blob %d\x00", len(b))
	s.Write(b)
	return hex.EncodeToString(s.Sum(nil))
}

// SHA256 is the hex sha256: the ETag (X-Linked-Etag) the Hub gives an LFS file.
func SHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// IsLFS reports whether the hub keeps a file with Git LFS: the extensions of the Hub's default
// .gitattributes (models, archives, arrays, parquet) or 10 MiB and more.
func IsLFS(name string, size int) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".onnx", ".parquet", ".arrow", ".bin", ".safetensors", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".h5",
		".npy", ".npz", ".tflite", ".msgpack", ".model", ".joblib", ".pb", ".ot", ".zip", ".gz", ".tgz", ".tar",
		".7z", ".bz2", ".xz", ".zst", ".png", ".jpg", ".jpeg":
		return true
	}
	return size >= 10<<20
}

func lfsPointer(b []byte) []byte {
	return fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", SHA256(b), len(b))
}

func orModel(typ string) string {
	if typ == "" {
		return "model"
	}
	return strings.TrimSuffix(typ, "s")
}

func (h *Hub) commitLocked(rp *repo, name string, files map[string][]byte) string {
	h.commits++
	s := sha1.New()
	fmt.Fprintf(s, "%s %s %s %d\n", rp.Type, rp.ID, name, h.commits)
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	slices.Sort(names)
	snap := map[string][]byte{}
	for _, k := range names {
		fmt.Fprintf(s, "%s %s\n", k, GitBlobSHA1(files[k]))
		snap[k] = slices.Clone(files[k])
	}
	c := hex.EncodeToString(s.Sum(nil))
	rp.commits[c] = snap
	return c
}

// record logs each request with the status it got.
func (h *Hub) record(server string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		h.mu.Lock()
		h.requests = append(h.requests, Request{Server: server, Method: r.Method, Path: r.URL.RequestURI(), Authorization: r.Header.Get("Authorization"), Status: sw.status})
		h.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// hubError answers as the Hub does: X-Error-Code, X-Error-Message and {"error": message}.
func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// segments splits the escaped path into unescaped segments, so %2F stays inside a segment.
func segments(r *http.Request) []string {
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	return parts
}

func (h *Hub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	down := h.down
	h.mu.Unlock()
	if down {
		hubError(w, http.StatusServiceUnavailable, "", "Service Unavailable")
		return
	}
	token, hasToken := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Header.Get("Authorization") != "" && (!hasToken || !strings.HasPrefix(token, "hf_")) {
		hubError(w, http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
		return
	}
	seg := segments(r)
	if len(seg) >= 4 && seg[0] == "api" && (seg[1] == "models" || seg[1] == "datasets") {
		if r.Method != http.MethodGet {
			hubError(w, http.StatusMethodNotAllowed, "", "Method not allowed")
			return
		}
		h.serveAPI(w, r, strings.TrimSuffix(seg[1], "s"), seg[2]+"/"+seg[3], seg[4:], token)
		return
	}
	typ := "model"
	if len(seg) > 0 && seg[0] == "datasets" {
		typ, seg = "dataset", seg[1:]
	}
	if len(seg) >= 5 && seg[2] == "resolve" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.serveResolve(w, r, typ, seg[0]+"/"+seg[1], seg[3], strings.Join(seg[4:], "/"), token)
		return
	}
	hubError(w, http.StatusNotFound, "", "Sorry, we can't find the page you are looking for.")
}

// lookup finds a repository and checks that the token may see it (not its files: see files).
func (h *Hub) lookup(w http.ResponseWriter, r *http.Request, typ, id, token string) *repo {
	h.mu.Lock()
	rp := h.repos[typ+":"+id]
	moved, isMoved := h.moved[typ+":"+id]
	h.mu.Unlock()
	if rp == nil && isMoved {
		// Renamed: a relative redirect to the same route under the new id.
		p := strings.Replace(r.URL.EscapedPath(), "/"+id+"/", "/"+moved+"/", 1)
		if strings.HasSuffix(r.URL.EscapedPath(), "/"+id) {
			p = strings.TrimSuffix(r.URL.EscapedPath(), id) + moved
		}
		if r.URL.RawQuery != "" {
			p += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", p)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return nil
	}
	if rp == nil || (rp.Private && !slices.Contains(rp.Readers, token)) {
		status := http.StatusNotFound
		if token == "" {
			status = http.StatusUnauthorized
		}
		hubError(w, status, "RepoNotFound", "Repository not found")
		return nil
	}
	return rp
}

// files checks that the token may read the files of a repository it can see.
func (h *Hub) files(w http.ResponseWriter, rp *repo, token string) bool {
	if rp.Gated == "" || slices.Contains(rp.Readers, token) {
		return true
	}
	if token == "" {
		hubError(w, http.StatusUnauthorized, "GatedRepo", fmt.Sprintf("Access to %s %s is restricted. You must have access to it and be authenticated to access it. Please log in.", rp.Type, rp.ID))
		return false
	}
	hubError(w, http.StatusForbidden, "GatedRepo", fmt.Sprintf("Access to %s %s is restricted and you are not in the authorized list. Visit %s to ask for access.", rp.Type, rp.ID, "https://huggingface.co/"+prefix(rp.Type)+rp.ID))
	return false
}

func prefix(typ string) string {
	if typ == "dataset" {
		return "datasets/"
	}
	return ""
}

// resolve finds the commit of a branch, tag, commit or unique commit prefix.
func (h *Hub) resolve(w http.ResponseWriter, rp *repo, rev string) (string, map[string][]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := rp.refs[rev]; ok {
		return c, rp.commits[c], true
	}
	if len(rev) >= 7 && len(rev) <= 40 {
		var found []string
		for c := range rp.commits {
			if strings.HasPrefix(c, rev) {
				found = append(found, c)
			}
		}
		if len(found) == 1 {
			return found[0], rp.commits[found[0]], true
		}
	}
	hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
	return "", nil, false
}

func (h *Hub) serveAPI(w http.ResponseWriter, r *http.Request, typ, id string, rest []string, token string) {
	rp := h.lookup(w, r, typ, id, token)
	if rp == nil {
		return
	}
	switch {
	case len(rest) == 0 || (len(rest) >= 2 && rest[0] == "revision"):
		rev := "main"
		if len(rest) >= 2 {
			rev = strings.Join(rest[1:], "/")
		}
		commit, files, ok := h.resolve(w, rp, rev)
		if !ok {
			return
		}
		h.writeInfo(w, rp, commit, files)
	case len(rest) == 1 && rest[0] == "auth-check":
		if h.files(w, rp, token) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, "{}")
		}
	case len(rest) >= 2 && rest[0] == "tree":
		if !h.files(w, rp, token) {
			return
		}
		commit, files, ok := h.resolve(w, rp, rest[1])
		if !ok {
			return
		}
		h.writeTree(w, r, rp, commit, files, strings.Join(rest[2:], "/"))
	default:
		hubError(w, http.StatusNotFound, "", "Sorry, we can't find the page you are looking for.")
	}
}

func (h *Hub) writeInfo(w http.ResponseWriter, rp *repo, commit string, files map[string][]byte) {
	names := make([]string, 0, len(files))
	var used int
	for k, v := range files {
		names = append(names, k)
		used += len(v)
	}
	slices.Sort(names)
	siblings := make([]map[string]string, len(names))
	for i, n := range names {
		siblings[i] = map[string]string{"rfilename": n}
	}
	var gated any = false
	if rp.Gated != "" {
		gated = rp.Gated
	}
	author, _, _ := strings.Cut(rp.ID, "/")
	idHash := sha1.Sum([]byte(rp.Type + rp.ID))
	info := map[string]any{
		"_id": hex.EncodeToString(idHash[:12]), "id": rp.ID, "author": author, "sha": commit,
		"lastModified": rp.created.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"), "createdAt": rp.created.Format("2006-01-02T15:04:05.000Z"),
		"private": rp.Private, "gated": gated, "disabled": false, "downloads": 0, "likes": 0, "tags": []string{},
		"siblings": siblings, "usedStorage": used,
	}
	if rp.Type == "model" {
		info["modelId"] = rp.ID
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(info)
}

type treeEntry struct {
	Type string    `json:"type"`
	OID  string    `json:"oid"`
	Size int       `json:"size"`
	Path string    `json:"path"`
	LFS  *lfsEntry `json:"lfs,omitempty"`
}

type lfsEntry struct {
	OID         string `json:"oid"`
	Size        int    `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

func (h *Hub) writeTree(w http.ResponseWriter, r *http.Request, rp *repo, commit string, files map[string][]byte, dir string) {
	recursive := strings.EqualFold(r.URL.Query().Get("recursive"), "true") || r.URL.Query().Get("recursive") == "1"
	var entries []treeEntry
	dirs := map[string]bool{}
	for name, b := range files {
		if dir != "" && !strings.HasPrefix(name, dir+"/") {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(name, dir), "/")
		if !recursive && strings.Contains(rel, "/") {
			d, _, _ := strings.Cut(rel, "/")
			dirs[path.Join(dir, d)] = true
			continue
		}
		for d := path.Dir(name); recursive && d != "." && d != dir; d = path.Dir(d) {
			dirs[d] = true
		}
		e := treeEntry{Type: "file", Size: len(b), Path: name, OID: GitBlobSHA1(b)}
		if IsLFS(name, len(b)) {
			p := lfsPointer(b)
			e.OID = GitBlobSHA1(p)
			e.LFS = &lfsEntry{OID: SHA256(b), Size: len(b), PointerSize: len(p)}
		}
		entries = append(entries, e)
	}
	if dir != "" && len(entries) == 0 && len(dirs) == 0 {
		hubError(w, http.StatusNotFound, "EntryNotFound", fmt.Sprintf("%s does not exist on %q", dir, commit))
		return
	}
	for d := range dirs {
		oid := sha1.Sum([]byte(commit + d))
		entries = append(entries, treeEntry{Type: "directory", Path: d, OID: hex.EncodeToString(oid[:])})
	}
	slices.SortFunc(entries, func(a, b treeEntry) int { return strings.Compare(a.Path, b.Path) })
	h.mu.Lock()
	size := h.pageSize
	h.mu.Unlock()
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(entries) {
			hubError(w, http.StatusBadRequest, "", "Invalid cursor")
			return
		}
		start = n
	}
	end := min(start+size, len(entries))
	if end < len(entries) {
		q := r.URL.Query()
		q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
		next := *r.URL
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, h.URL(), next.RequestURI()))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	page := entries[start:end]
	if page == nil {
		page = []treeEntry{}
	}
	json.NewEncoder(w).Encode(page)
}

func (h *Hub) serveResolve(w http.ResponseWriter, r *http.Request, typ, id, rev, name, token string) {
	rp := h.lookup(w, r, typ, id, token)
	if rp == nil || !h.files(w, rp, token) {
		return
	}
	commit, files, ok := h.resolve(w, rp, rev)
	if !ok {
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	b, ok := files[name]
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	w.Header().Set("Accept-Ranges", "bytes")
	if IsLFS(name, len(b)) {
		sum := SHA256(b)
		exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		loc := fmt.Sprintf("%s/repos/%s/%s/%s?X-Amz-Expires=%s&X-Amz-Signature=%s&response-content-disposition=%s",
			h.CDNURL(), sum[:2], sum[2:4], sum, exp, h.sign(sum, exp), url.QueryEscape(fmt.Sprintf("inline; filename=%q", path.Base(name))))
		w.Header().Set("ETag", `"`+GitBlobSHA1(lfsPointer(b))+`"`)
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
		w.Header().Set("Location", loc)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusFound)
		if r.Method == http.MethodGet {
			fmt.Fprintf(w, "Found. Redirecting to %s", loc)
		}
		return
	}
	w.Header().Set("ETag", `"`+GitBlobSHA1(b)+`"`)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(b)
	}
}

func (h *Hub) sign(sum, exp string) string {
	m := hmac.New(sha256.New, h.secret)
	fmt.Fprintf(m, "%s|%s", sum, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// serveCDN serves LFS content by sha256 behind a signed, expiring URL.
func (h *Hub) serveCDN(w http.ResponseWriter, r *http.Request) {
	cdnError := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
	}
	if r.Header.Get("Authorization") != "" {
		cdnError(http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	}
	seg := segments(r)
	if len(seg) != 4 || seg[0] != "repos" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	sum, q := seg[3], r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("X-Amz-Signature")), []byte(h.sign(sum, q.Get("X-Amz-Expires")))) || time.Now().Unix() > exp {
		cdnError(http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	var content []byte
	h.mu.Lock()
	for _, rp := range h.repos {
		for _, files := range rp.commits {
			for _, b := range files {
				if content == nil && SHA256(b) == sum {
					content = b
				}
			}
		}
	}
	h.mu.Unlock()
	if content == nil {
		cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	w.Header().Set("ETag", `"`+sum+`"`)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	if d := q.Get("response-content-disposition"); d != "" {
		w.Header().Set("Content-Disposition", d)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(content)
	}
}

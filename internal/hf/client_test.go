package hf_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/hf"
	"github.com/tinymlaas/tinyml/internal/hf/hftest"
)

var (
	onnxBytes   = []byte("\x08\x07fake-onnx-model-bytes-for-the-cache-tests")
	configBytes = []byte(`{"input": [1, 8, 8], "classes": 10}`)
)

func digitsRepo() hftest.Repo {
	return hftest.Repo{ID: "tinyml/digits-cnn", Files: map[string][]byte{
		"model.onnx": onnxBytes, "meta/config.json": configBytes, "README.md": []byte("# digits\n"),
	}}
}

// client makes a client of the hub with its own cache and no token unless given.
func client(t *testing.T, h *hftest.Hub, opts ...hf.Option) (*hf.Client, string) {
	t.Helper()
	cache := t.TempDir()
	c, err := hf.New(append([]hf.Option{hf.WithEndpoint(h.URL()), hf.WithCacheDir(cache), hf.WithToken(""), hf.WithOffline(false)}, opts...)...)
	require.NoError(t, err)
	return c, cache
}

func fetch(t *testing.T, c *hf.Client, ref string) (*hf.Fetched, error) {
	t.Helper()
	r, err := hf.ParseRef(ref)
	require.NoError(t, err)
	return c.Fetch(context.Background(), r)
}

func TestDownloadWritesHuggingfaceHubCacheLayout(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	c, cache := client(t, h)
	commit := h.Commit("model", "tinyml/digits-cnn", "main")

	f, err := fetch(t, c, "hf://tinyml/digits-cnn")
	require.NoError(t, err)
	require.Equal(t, "model.onnx", f.File, "the single .onnx file is picked")
	require.Equal(t, commit, f.Commit)
	repo := filepath.Join(cache, "models--tinyml--digits-cnn")
	require.Equal(t, filepath.Join(repo, "snapshots", commit, "model.onnx"), f.Path)

	// LFS file: the blob is named by its sha256; the snapshot entry is a relative symlink.
	sum := hftest.SHA256(onnxBytes)
	target, err := os.Readlink(f.Path)
	require.NoError(t, err)
	require.Equal(t, "../../blobs/"+sum, target)
	b, err := os.ReadFile(f.Path)
	require.NoError(t, err)
	require.Equal(t, onnxBytes, b)
	ref, err := os.ReadFile(filepath.Join(repo, "refs", "main"))
	require.NoError(t, err)
	require.Equal(t, commit, string(ref), "refs/main holds the commit, without a newline")
	require.FileExists(t, filepath.Join(cache, "CACHEDIR.TAG"))

	// A file kept in git, in a folder: named by its git blob sha1, linked from one level deeper.
	f, err = fetch(t, c, "hf://tinyml/digits-cnn/meta/config.json")
	require.NoError(t, err)
	target, err = os.Readlink(f.Path)
	require.NoError(t, err)
	require.Equal(t, "../../../blobs/"+hftest.GitBlobSHA1(configBytes), target)
	b, err = os.ReadFile(f.Path)
	require.NoError(t, err)
	require.Equal(t, configBytes, b)

	blobs, err := os.ReadDir(filepath.Join(repo, "blobs"))
	require.NoError(t, err)
	require.Len(t, blobs, 2, "no .incomplete file is left behind")

	// The LFS content came from the CDN, the other from the hub.
	require.Equal(t, 1, h.Count("cdn", "GET", sum))
	require.Equal(t, 1, h.Count("hub", "GET", "/resolve/"+commit+"/meta/config.json"))
}

func TestWithoutSymlinksSnapshotsHoldCopies(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	c, _ := client(t, h, hf.WithSymlinks(false))
	f, err := fetch(t, c, "hf://tinyml/digits-cnn/model.onnx")
	require.NoError(t, err)
	st, err := os.Lstat(f.Path)
	require.NoError(t, err)
	require.True(t, st.Mode().IsRegular())
}

func TestCachedFilesAreReused(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	c, _ := client(t, h)
	first, err := fetch(t, c, "hf://tinyml/digits-cnn/model.onnx")
	require.NoError(t, err)
	h.ResetRequests()

	// Same revision again: the Hub is asked which commit main is, and nothing is downloaded.
	again, err := fetch(t, c, "hf://tinyml/digits-cnn/model.onnx")
	require.NoError(t, err)
	require.Equal(t, first.Path, again.Path)
	require.Zero(t, h.Count("", "", "/resolve/"), "no HEAD or GET of the file: %v", h.Requests())
	require.Zero(t, h.Count("cdn", "", ""))

	// By commit: not even the Hub is asked.
	h.ResetRequests()
	byCommit, err := fetch(t, c, "hf://tinyml/digits-cnn@"+first.Commit+"/model.onnx")
	require.NoError(t, err)
	require.True(t, byCommit.Cached)
	require.Empty(t, h.Requests())

	// A new commit that changes another file: the model's blob (same ETag) is linked from the
	// new snapshot without downloading it again; the changed file is downloaded.
	h.ResetRequests()
	commit := h.Push(t, "model", "tinyml/digits-cnn", map[string][]byte{"meta/config.json": []byte(`{"v": 2}`)})
	moved, err := fetch(t, c, "hf://tinyml/digits-cnn/model.onnx")
	require.NoError(t, err)
	require.Equal(t, commit, moved.Commit)
	require.NotEqual(t, first.Path, moved.Path)
	require.Equal(t, 1, h.Count("hub", "HEAD", "/resolve/"+commit+"/model.onnx"), "the ETag is checked")
	require.Zero(t, h.Count("cdn", "GET", ""), "the blob is reused")
	cfg, err := fetch(t, c, "hf://tinyml/digits-cnn/meta/config.json")
	require.NoError(t, err)
	b, err := os.ReadFile(cfg.Path)
	require.NoError(t, err)
	require.Equal(t, `{"v": 2}`, string(b))
}

func TestConcurrentFetchesShareOneDownload(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	c, _ := client(t, h)
	var wg sync.WaitGroup
	paths := make([]string, 8)
	for i := range paths {
		wg.Go(func() {
			f, err := fetch(t, c, "hf://tinyml/digits-cnn/model.onnx")
			if err == nil {
				paths[i] = f.Path
			}
		})
	}
	wg.Wait()
	for _, p := range paths {
		require.Equal(t, paths[0], p)
		require.NotEmpty(t, p)
	}
	require.Equal(t, 1, h.Count("cdn", "GET", ""))
}

func TestRevisionsResolveToCommits(t *testing.T) {
	v1 := []byte("\x08\x07version-one")
	repo := digitsRepo()
	repo.Revisions = []hftest.Revision{{Name: "v1", Files: map[string][]byte{"model.onnx": v1}}}
	h := hftest.New(t, repo)
	c, cache := client(t, h)
	tag := h.Commit("model", "tinyml/digits-cnn", "v1")

	f, err := fetch(t, c, "hf://tinyml/digits-cnn@v1")
	require.NoError(t, err)
	require.Equal(t, tag, f.Commit)
	require.Equal(t, filepath.Join(cache, "models--tinyml--digits-cnn", "snapshots", tag, "model.onnx"), f.Path)
	b, _ := os.ReadFile(f.Path)
	require.Equal(t, v1, b)
	ref, err := os.ReadFile(filepath.Join(cache, "models--tinyml--digits-cnn", "refs", "v1"))
	require.NoError(t, err)
	require.Equal(t, tag, string(ref))

	// A short commit resolves too.
	f, err = fetch(t, c, "hf://tinyml/digits-cnn@"+tag[:10])
	require.NoError(t, err)
	require.Equal(t, tag, f.Commit)

	info, err := c.Info(context.Background(), hf.Repo{Type: hf.Model, ID: "tinyml/digits-cnn"}, "")
	require.NoError(t, err)
	require.Equal(t, h.Commit("model", "tinyml/digits-cnn", "main"), info.SHA)

	_, err = fetch(t, c, "hf://tinyml/digits-cnn@v9")
	require.ErrorIs(t, err, hf.ErrRevisionNotFound)
	require.ErrorContains(t, err, `revision "v9" does not exist`)
	require.ErrorContains(t, err, "Invalid rev id: v9")
}

func TestAccessIsVerifiedFirstAndErrorsSayWhatToDo(t *testing.T) {
	h := hftest.New(t,
		hftest.Repo{ID: "acme/gated", Gated: "manual", Readers: []string{"hf_alice"}, Files: map[string][]byte{"model.onnx": onnxBytes}},
		hftest.Repo{ID: "acme/private", Private: true, Readers: []string{"hf_alice"}, Files: map[string][]byte{"model.onnx": onnxBytes}},
		hftest.Repo{ID: "acme/data", Type: "dataset", Gated: "auto", Readers: []string{"hf_alice"}, Files: map[string][]byte{"test.csv": []byte("1,2\n")}},
		digitsRepo(),
	)
	for _, tc := range []struct {
		name, ref, token string
		err              error
		says             []string
	}{
		{"gated without a token", "hf://acme/gated", "", hf.ErrGated, []string{"gated", "accept its terms", h.URL() + "/acme/gated", "HF_TOKEN", "401 GatedRepo", "Please log in"}},
		{"gated, token not granted", "hf://acme/gated", "hf_bob", hf.ErrGated, []string{"has not been granted access", "the token (from the client's options)", "accept its terms", h.URL() + "/acme/gated", "403 GatedRepo"}},
		{"gated dataset without a token", "hf://datasets/acme/data", "", hf.ErrGated, []string{h.URL() + "/datasets/acme/data", "HF_TOKEN"}},
		{"private without a token", "hf://acme/private", "", hf.ErrRepoNotFound, []string{"or it is private", "HF_TOKEN", "/settings/tokens", "401 RepoNotFound"}},
		{"private, token without access", "hf://acme/private", "hf_bob", hf.ErrRepoNotFound, []string{"the token (from the client's options) cannot read it", "404 RepoNotFound"}},
		{"an invalid token", "hf://tinyml/digits-cnn", "not-a-token", hf.ErrUnauthorized, []string{"invalid or expired", "/settings/tokens"}},
		{"a misspelt name", "hf://tinyml/digits-cnm", "", hf.ErrRepoNotFound, []string{"check the name hf://tinyml/digits-cnm (a dataset is hf://datasets/tinyml/digits-cnm)"}},
		{"a model asked as a dataset", "hf://datasets/tinyml/digits-cnn", "", hf.ErrRepoNotFound, []string{"check the name hf://datasets/tinyml/digits-cnn"}},
		{"a missing file", "hf://tinyml/digits-cnn/nope.onnx", "", hf.ErrEntryNotFound, []string{`no file or folder "nope.onnx"`, "model.onnx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := client(t, h, hf.WithToken(tc.token))
			h.ResetRequests()
			_, err := fetch(t, c, tc.ref)
			require.ErrorIs(t, err, tc.err)
			for _, s := range tc.says {
				require.ErrorContains(t, err, s)
			}
			require.Zero(t, h.Count("", "", "/resolve/"), "nothing is downloaded before access is verified")
		})
	}
	c, _ := client(t, h, hf.WithToken("hf_alice"))
	for _, ref := range []string{"hf://acme/gated", "hf://acme/private", "hf://datasets/acme/data"} {
		_, err := fetch(t, c, ref)
		require.NoError(t, err, ref)
	}
}

func TestTheTokenNeverLeavesTheHubsHost(t *testing.T) {
	h := hftest.New(t, hftest.Repo{ID: "acme/gated", Gated: "manual", Readers: []string{"hf_alice"}, Files: map[string][]byte{"model.onnx": onnxBytes}})
	c, _ := client(t, h, hf.WithToken("hf_alice"))
	f, err := fetch(t, c, "hf://acme/gated/model.onnx")
	require.NoError(t, err)
	b, _ := os.ReadFile(f.Path)
	require.Equal(t, onnxBytes, b)
	var cdn int
	for _, r := range h.Requests() {
		switch r.Server {
		case "cdn":
			cdn++
			require.Empty(t, r.Authorization, "the CDN got the token: %+v", r)
			require.Equal(t, http.StatusOK, r.Status)
		case "hub":
			require.Equal(t, "Bearer hf_alice", r.Authorization, "%+v", r)
		}
	}
	require.Equal(t, 1, cdn, "the LFS file was fetched through the redirect")
}

func TestTheTokenComesFromTheEnvironmentOrTheTokenFile(t *testing.T) {
	h := hftest.New(t, hftest.Repo{ID: "acme/private", Private: true, Readers: []string{"hf_alice"}, Files: map[string][]byte{"model.onnx": onnxBytes}})
	h.Setenv(t)
	t.Setenv("HF_TOKEN", "hf_alice")
	c, err := hf.New()
	require.NoError(t, err)
	ok, src := c.HasToken()
	require.True(t, ok)
	require.Equal(t, "HF_TOKEN", src)
	_, err = fetch(t, c, "hf://acme/private")
	require.NoError(t, err)

	os.Unsetenv("HF_TOKEN")
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte("hf_bob\n"), 0o600))
	t.Setenv("HF_TOKEN_PATH", file)
	c, err = hf.New()
	require.NoError(t, err)
	_, err = fetch(t, c, "hf://acme/private")
	require.ErrorIs(t, err, hf.ErrRepoNotFound)
	require.ErrorContains(t, err, "the token (from the token file "+file+")")
}

func TestOfflineModeUsesTheCacheOnly(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	cache := h.Setenv(t)
	t.Setenv("HF_HUB_OFFLINE", "1")
	off, err := hf.New()
	require.NoError(t, err)
	require.True(t, off.Offline())
	_, err = fetch(t, off, "hf://tinyml/digits-cnn")
	require.ErrorIs(t, err, hf.ErrOffline)
	require.ErrorContains(t, err, "HF_HUB_OFFLINE")
	require.ErrorContains(t, err, cache)
	require.ErrorContains(t, err, "tinyml hf download tinyml/digits-cnn")
	require.Empty(t, h.Requests())

	on, err := hf.New(hf.WithOffline(false))
	require.NoError(t, err)
	online, err := fetch(t, on, "hf://tinyml/digits-cnn")
	require.NoError(t, err)

	h.ResetRequests()
	for _, ref := range []string{"hf://tinyml/digits-cnn", "hf://tinyml/digits-cnn/model.onnx", "hf://tinyml/digits-cnn@" + online.Commit} {
		f, err := fetch(t, off, ref)
		require.NoError(t, err, ref)
		require.Equal(t, online.Path, f.Path)
		require.True(t, f.Cached)
	}
	_, err = fetch(t, off, "hf://tinyml/digits-cnn/meta/config.json")
	require.ErrorIs(t, err, hf.ErrOffline, "a file never downloaded")
	files, err := off.ListFiles(context.Background(), hf.Repo{Type: hf.Model, ID: "tinyml/digits-cnn"}, "main")
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.Empty(t, h.Requests(), "offline means no request at all")
}

func TestAnUnreachableHubFallsBackToTheCache(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	c, _ := client(t, h)
	online, err := fetch(t, c, "hf://tinyml/digits-cnn")
	require.NoError(t, err)
	h.SetDown(true)
	f, err := fetch(t, c, "hf://tinyml/digits-cnn")
	require.NoError(t, err)
	require.Equal(t, online.Path, f.Path)
	_, err = fetch(t, c, "hf://tinyml/digits-cnn/meta/config.json")
	require.ErrorIs(t, err, hf.ErrUnreachable)
	require.ErrorContains(t, err, "HF_HUB_OFFLINE=1")

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c2, err := hf.New(hf.WithEndpoint(dead.URL), hf.WithCacheDir(t.TempDir()), hf.WithToken(""), hf.WithOffline(false))
	require.NoError(t, err)
	_, err = fetch(t, c2, "hf://tinyml/digits-cnn")
	require.ErrorIs(t, err, hf.ErrUnreachable)
	require.ErrorContains(t, err, "check the network")
}

func TestFilesAboveTheSizeLimitAreRefused(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	c, cache := client(t, h, hf.WithMaxFileSize(16))
	_, err := fetch(t, c, "hf://tinyml/digits-cnn/model.onnx")
	require.ErrorIs(t, err, hf.ErrTooLarge)
	require.ErrorContains(t, err, "above the limit of 16 B")
	require.Zero(t, h.Count("cdn", "", ""))
	blobs, _ := os.ReadDir(filepath.Join(cache, "models--tinyml--digits-cnn", "blobs"))
	require.Empty(t, blobs)
}

func TestListFilesFollowsPagination(t *testing.T) {
	files := map[string][]byte{}
	for i := range 7 {
		files[fmt.Sprintf("dir%d/f%d.csv", i%2, i)] = []byte{byte(i)}
	}
	h := hftest.New(t, hftest.Repo{ID: "acme/many", Type: "dataset", Files: files})
	h.SetPageSize(3)
	c, _ := client(t, h)
	list, err := c.ListFiles(context.Background(), hf.Repo{Type: hf.Dataset, ID: "acme/many"}, "")
	require.NoError(t, err)
	require.Len(t, list, 7, "files only, not the two folders")
	require.Equal(t, "dir0/f0.csv", list[0].Path)
	require.Nil(t, list[0].LFS)
	require.GreaterOrEqual(t, h.Count("hub", "GET", "cursor="), 2)
}

func TestSnapshotDownloadsEveryFile(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	c, _ := client(t, h)
	dir, commit, err := c.Snapshot(context.Background(), hf.Repo{Type: hf.Model, ID: "tinyml/digits-cnn"}, "")
	require.NoError(t, err)
	require.Equal(t, h.Commit("model", "tinyml/digits-cnn", "main"), commit)
	for _, f := range []string{"model.onnx", "meta/config.json", "README.md"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
}

func TestARenamedRepositoryIsFollowed(t *testing.T) {
	h := hftest.New(t, digitsRepo())
	h.Rename(t, "model", "tinyml/digits-cnn", "tinyml/digits")
	c, _ := client(t, h)
	f, err := fetch(t, c, "hf://tinyml/digits-cnn/meta/config.json")
	require.NoError(t, err)
	b, _ := os.ReadFile(f.Path)
	require.Equal(t, configBytes, b)
}

// A hub (or a proxy) that serves content not matching its ETag: the download is refused and
// nothing is cached.
func TestContentNotMatchingItsETagIsRefused(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	good := []byte("the real content")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/models/acme/m/revision/"):
			fmt.Fprintf(w, `{"id":"acme/m","sha":%q,"gated":false,"private":false,"siblings":[{"rfilename":"f.csv"}]}`, commit)
		case r.URL.Path == "/acme/m/resolve/"+commit+"/f.csv":
			w.Header().Set("X-Repo-Commit", commit)
			w.Header().Set("ETag", `"`+hftest.GitBlobSHA1(good)+`"`)
			w.Header().Set("Content-Length", fmt.Sprint(len(good)))
			if r.Method == http.MethodGet {
				w.Write([]byte("the fake content"))
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	c, err := hf.New(hf.WithEndpoint(srv.URL), hf.WithCacheDir(cache), hf.WithToken(""), hf.WithOffline(false))
	require.NoError(t, err)
	_, err = fetch(t, c, "hf://acme/m/f.csv")
	require.ErrorIs(t, err, hf.ErrIntegrity)
	blobs, _ := os.ReadDir(filepath.Join(cache, "models--acme--m", "blobs"))
	require.Empty(t, blobs)
	require.NoDirExists(t, filepath.Join(cache, "models--acme--m", "snapshots", commit))
}

func TestAStalledDownloadIsAbandoned(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	content := []byte("0123456789")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/models/acme/m/revision/"):
			fmt.Fprintf(w, `{"id":"acme/m","sha":%q,"gated":false,"siblings":[{"rfilename":"f.csv"}]}`, commit)
		case r.URL.Path == "/acme/m/resolve/"+commit+"/f.csv":
			w.Header().Set("X-Repo-Commit", commit)
			w.Header().Set("ETag", `"`+hftest.GitBlobSHA1(content)+`"`)
			w.Header().Set("Content-Length", fmt.Sprint(len(content)))
			if r.Method == http.MethodGet {
				w.Write(content[:3])
				w.(http.Flusher).Flush()
				<-r.Context().Done() // then nothing, until the client gives up
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := hf.New(hf.WithEndpoint(srv.URL), hf.WithCacheDir(t.TempDir()), hf.WithToken(""), hf.WithOffline(false), hf.WithTimeout(5*time.Second, 200*time.Millisecond))
	require.NoError(t, err)
	_, err = fetch(t, c, "hf://acme/m/f.csv")
	require.ErrorIs(t, err, hf.ErrUnreachable)
	require.ErrorContains(t, err, "stalled")
	require.ErrorContains(t, err, "after 3 of 10 bytes")
}

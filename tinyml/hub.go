package tinyml

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/tinymlaas/tinyml/internal/hf"
)

// Hugging Face Hub references
//
// Models and datasets may be given as hf://namespace/name[@revision][/path] (model
// repositories) and hf://datasets/namespace/name[@revision][/path]. The revision is a branch,
// tag or commit (default main); the path names a file or a folder. Without a file, a model
// repository's single .onnx file is used, and a dataset repository's single .parquet, .csv or
// .npz file, else its test split (test.parquet, data/test-00000-of-00001.parquet).
//
// Before downloading, the studio verifies that the repository exists and may be read (gated
// repositories need a token of an account that accepted their terms), and resolves the revision
// to a commit. Files go into huggingface_hub's cache (shared with Python tools) and are reused
// while their commit's content is unchanged. The environment is huggingface_hub's: HF_ENDPOINT,
// HF_TOKEN (else the token file of `hf auth login`), HF_HUB_CACHE or HF_HOME, HF_HUB_OFFLINE=1
// (cache only); WithHub overrides it.

// ErrBadReference is matched by a malformed hf:// reference (CreateRuns refuses it).
var ErrBadReference = hf.ErrBadRef

// HubOptions configure the Hugging Face Hub client; zero fields keep the environment's settings.
type HubOptions struct {
	Endpoint     string       // default $HF_ENDPOINT, else https://huggingface.co
	Token        string       // default $HF_TOKEN, else the token file ($HF_TOKEN_PATH or $HF_HOME/token)
	NoToken      bool         // send no token, whatever the environment holds
	CacheDir     string       // default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
	Offline      bool         // use the cache only, as HF_HUB_OFFLINE=1 does
	MaxFileBytes int64        // largest file to download; default 2 GiB
	HTTPClient   *http.Client // transport, proxy and TLS settings; default http.DefaultClient
}

func (o HubOptions) client(extra ...hf.Option) (*hf.Client, error) {
	opts := extra
	if o.Endpoint != "" {
		opts = append(opts, hf.WithEndpoint(o.Endpoint))
	}
	if o.Token != "" || o.NoToken {
		opts = append(opts, hf.WithToken(o.Token))
	}
	if o.CacheDir != "" {
		opts = append(opts, hf.WithCacheDir(o.CacheDir))
	}
	if o.Offline {
		opts = append(opts, hf.WithOffline(true))
	}
	if o.MaxFileBytes > 0 {
		opts = append(opts, hf.WithMaxFileSize(o.MaxFileBytes))
	}
	if o.HTTPClient != nil {
		opts = append(opts, hf.WithHTTPClient(o.HTTPClient))
	}
	return hf.New(opts...)
}

// WithHub configures how hf:// references are fetched (default: from the environment).
func WithHub(o HubOptions) Option {
	return func(s *Studio) error {
		if _, err := o.client(); err != nil { // refuse bad options when the studio opens
			return fmt.Errorf("hub: %w", err)
		}
		s.hub.opts = o
		return nil
	}
}

// hubSetup holds the studio's Hub client, made on first use from the environment and WithHub's
// options.
type hubSetup struct {
	opts   HubOptions
	once   sync.Once
	client *hf.Client
	err    error
}

func (s *Studio) hubClient() (*hf.Client, error) {
	s.hub.once.Do(func() {
		s.hub.client, s.hub.err = s.hub.opts.client(hf.WithLogger(s.log))
	})
	return s.hub.client, s.hub.err
}

// checkHubRef parses a reference where runs are created, so a malformed one fails there.
func checkHubRef(ref string) error {
	if ref == "" {
		return nil
	}
	_, err := hf.ParseRef(ref)
	return err
}

// fetchHub is fromHub's work.
func (s *Studio) fetchHub(ctx context.Context, ref string) (string, error) {
	r, err := hf.ParseRef(ref)
	if err != nil {
		return "", err
	}
	c, err := s.hubClient()
	if err != nil {
		return "", err
	}
	f, err := c.Fetch(ctx, r)
	if err != nil {
		return "", err
	}
	s.log.Info("fetched from the Hugging Face Hub", "ref", ref, "commit", f.Commit, "file", f.File, "path", f.Path, "cached", f.Cached)
	return f.Path, nil
}

// HubDownload names what DownloadFromHub fetches.
type HubDownload struct {
	// Repo is namespace/name, or a whole reference hf://[datasets/]namespace/name[@revision][/path].
	Repo     string
	RepoType string // "model" (default) or "dataset"
	Revision string // branch, tag or commit; default main
	// File is a file of the repository; without one (and without a path in Repo), every file
	// of the repository is downloaded and the snapshot folder returned.
	File string
}

// HubFile is what DownloadFromHub fetched.
type HubFile struct {
	Repo     string `json:"repo"`
	RepoType string `json:"repo_type"`
	Revision string `json:"revision"`
	Commit   string `json:"commit"`
	File     string `json:"file,omitempty"` // "" for a whole snapshot
	Path     string `json:"path"`           // the file, or the snapshot folder, in the cache
	Cached   bool   `json:"cached"`         // served from the cache without asking the Hub
}

// DownloadFromHub downloads a file (or a whole repository) from the Hugging Face Hub into the
// huggingface_hub cache, verifying access first, and returns where it is: what
// `huggingface-cli download` does.
func DownloadFromHub(ctx context.Context, d HubDownload, o HubOptions) (*HubFile, error) {
	ref, err := hubRequestRef(d)
	if err != nil {
		return nil, err
	}
	c, err := o.client()
	if err != nil {
		return nil, err
	}
	out := &HubFile{Repo: ref.ID, RepoType: string(ref.Type), Revision: ref.Rev()}
	if ref.Path == "" {
		dir, commit, err := c.Snapshot(ctx, ref.Repo, ref.Rev())
		if err != nil {
			return nil, err
		}
		out.Commit, out.Path = commit, dir
		return out, nil
	}
	f, err := c.Fetch(ctx, ref)
	if err != nil {
		return nil, err
	}
	out.Commit, out.File, out.Path, out.Cached = f.Commit, f.File, f.Path, f.Cached
	return out, nil
}

func hubRequestRef(d HubDownload) (hf.Ref, error) {
	typ, err := hf.ParseRepoType(d.RepoType)
	if err != nil {
		return hf.Ref{}, err
	}
	if !hf.IsRef(d.Repo) {
		if strings.Contains(d.Repo, "://") {
			return hf.Ref{}, fmt.Errorf("%w: %q: give namespace/name or hf://[datasets/]namespace/name[@revision][/path]", hf.ErrBadRef, d.Repo)
		}
		ref := hf.Ref{Repo: hf.Repo{Type: typ, ID: strings.Trim(d.Repo, "/")}, Revision: d.Revision, Path: d.File}
		if err := ref.Repo.Validate(); err != nil {
			return hf.Ref{}, err
		}
		// Revision and file go through the reference grammar's checks.
		return hf.ParseRef(ref.String())
	}
	ref, err := hf.ParseRef(d.Repo)
	if err != nil {
		return hf.Ref{}, err
	}
	conflict := func(what, a, b string) error {
		return fmt.Errorf("%w: %s says %s %q but %s was also asked; give it once", hf.ErrBadRef, d.Repo, what, a, b)
	}
	switch {
	case d.RepoType != "" && typ != ref.Type:
		return hf.Ref{}, conflict("repository type", string(ref.Type), "type "+string(typ))
	case d.Revision != "" && ref.Revision != "" && d.Revision != ref.Revision:
		return hf.Ref{}, conflict("revision", ref.Revision, "revision "+d.Revision)
	case d.File != "" && ref.Path != "":
		return hf.Ref{}, conflict("path", ref.Path, "file "+d.File)
	}
	if d.Revision != "" {
		ref.Revision = d.Revision
	}
	if d.File != "" {
		ref.Path = d.File
	}
	return hf.ParseRef(ref.String())
}

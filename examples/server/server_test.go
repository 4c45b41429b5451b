package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/tinyml"
)

func TestMain(m *testing.M) {
	tinyml.WorkerMain()
	os.Exit(m.Run())
}

const token = "s3cret"

type client struct {
	t   *testing.T
	url string
}

func newTestServer(t *testing.T) *client {
	t.Helper()
	dir := t.TempDir()
	studio, err := tinyml.Open(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { studio.Close() })
	uploads := filepath.Join(dir, "uploads")
	require.NoError(t, os.MkdirAll(uploads, 0o755))
	srv := httptest.NewServer((&server{studio: studio, token: token, uploads: uploads, log: slog.New(slog.NewTextHandler(io.Discard, nil))}).handler())
	t.Cleanup(srv.Close)
	return &client{t: t, url: srv.URL}
}

// do sends a request with the token and decodes a JSON answer into out (when not nil).
func (c *client) do(method, path, ctype string, body io.Reader, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, body)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	if out != nil {
		require.NoError(c.t, json.Unmarshal(b, out), "%s %s answered %d: %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (c *client) json(method, path string, in, out any) int {
	b, err := json.Marshal(in)
	require.NoError(c.t, err)
	return c.do(method, path, "application/json", bytes.NewReader(b), out)
}

func TestEveryAPIRequestNeedsTheToken(t *testing.T) {
	c := newTestServer(t)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + token} {
		req, _ := http.NewRequest("GET", c.url+"/api/projects", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var e map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, auth)
		require.Contains(t, e["error"], "Bearer")
	}
}

func TestTheSeedFlowOverHTTP(t *testing.T) {
	c := newTestServer(t)
	var p tinyml.Project
	require.Equal(t, 201, c.json("POST", "/api/projects", map[string]string{"name": "http"}, &p))
	var e map[string]string
	require.Equal(t, 409, c.json("POST", "/api/projects", map[string]string{"name": "http"}, &e))
	require.NotEmpty(t, e["error"])

	var d tinyml.Device
	require.Equal(t, 201, c.json("POST", "/api/devices", map[string]any{"name": "board", "kind": "local", "cpus": 1, "memory": "64MiB", "storage": 1 << 20}, &d))
	require.EqualValues(t, 64<<20, d.MemoryBytes)
	require.Equal(t, 400, c.json("POST", "/api/devices", map[string]any{"name": "x", "kind": "toaster"}, &e))

	var created struct{ Runs []*tinyml.Run }
	require.Equal(t, 201, c.json("POST", "/api/projects/"+p.ID+"/runs", map[string]any{
		"models":  []string{testenv.RepoFile(t, "testdata/models/digits_cnn.onnx")},
		"dataset": testenv.RepoFile(t, "testdata/data/digits_test.csv"),
		"devices": []string{"board"},
	}, &created))
	require.Len(t, created.Runs, 1)
	run := created.Runs[0]
	require.Equal(t, tinyml.Generated, run.Step(tinyml.StepModel).Status, "model fetched before the answer")
	require.Equal(t, tinyml.Generated, run.Step(tinyml.StepDataset).Status)

	// Steps before compile are done; install before compile is refused.
	require.Equal(t, 400, c.do("POST", "/api/runs/"+run.ID+"/install", "", nil, &e))
	require.Contains(t, e["error"], "compile")

	events := c.subscribe(p.ID)
	for _, step := range []string{"compile", "install", "inference"} {
		var r tinyml.Run
		require.Equal(t, 202, c.do("POST", "/api/runs/"+run.ID+"/"+step, "", nil, &r))
		c.waitStep(run.ID, tinyml.StepName(step))
	}
	var done tinyml.Run
	require.Equal(t, 200, c.do("GET", "/api/runs/"+run.ID, "", nil, &done))
	require.Equal(t, tinyml.Generated, done.Status)
	require.InDelta(t, 0.983, done.Metrics.Accuracy, 0.001)
	require.Contains(t, <-events, `"step":"compile"`)

	var list []*tinyml.Run
	require.Equal(t, 200, c.do("GET", "/api/projects/"+p.ID+"/runs", "", nil, &list))
	require.Len(t, list, 1)

	req, _ := http.NewRequest("GET", c.url+"/api/projects/"+p.ID+"/report", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, string(html), "<table")

	require.Equal(t, 200, c.do("GET", "/api/runs/"+run.ID+"/artifacts/compile/result.json", "", nil, new(map[string]any)))
	for _, bad := range []string{"../../tinyml.db", "..%2f..%2ftinyml.db", "/etc/passwd"} {
		require.Equal(t, 404, c.do("GET", "/api/runs/"+run.ID+"/artifacts/"+bad, "", nil, &e), bad)
	}
	require.Equal(t, 404, c.do("GET", "/api/runs/run_nosuchrun000", "", nil, &e))
	require.Contains(t, e["error"], "run_nosuchrun000")
}

func TestUploadsCreateRuns(t *testing.T) {
	c := newTestServer(t)
	var p tinyml.Project
	require.Equal(t, 201, c.json("POST", "/api/projects", map[string]string{"name": "upload"}, &p))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for field, path := range map[string]string{"model": "testdata/models/digits_mlp.onnx", "dataset": "testdata/data/digits_test.csv"} {
		fw, err := mw.CreateFormFile(field, filepath.Base(path))
		require.NoError(t, err)
		b, err := os.ReadFile(testenv.RepoFile(t, path))
		require.NoError(t, err)
		fw.Write(b)
	}
	mw.WriteField("compress", "none")
	mw.WriteField("device", "local")
	require.NoError(t, mw.Close())
	var created struct{ Runs []*tinyml.Run }
	require.Equal(t, 201, c.do("POST", "/api/projects/"+p.ID+"/runs", mw.FormDataContentType(), &body, &created))
	require.Len(t, created.Runs, 1)
	require.Equal(t, tinyml.Generated, created.Runs[0].Step(tinyml.StepDataset).Status)

	// A new upload that is not a model fails the model step with a 422 naming why.
	body.Reset()
	mw = multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("model", "model.pkl")
	fw.Write([]byte("\x80\x04not onnx"))
	mw.Close()
	var failed struct {
		Error string
		Run   *tinyml.Run
	}
	require.Equal(t, 422, c.do("POST", "/api/runs/"+created.Runs[0].ID+"/model", mw.FormDataContentType(), &body, &failed))
	require.Contains(t, failed.Error, "torch.onnx.export")
	require.Equal(t, tinyml.Pending, failed.Run.Step(tinyml.StepDataset).Status, "later steps start over")
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	c := newTestServer(t)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.Equal(t, 200, c.do("GET", "/api/openapi.json", "", nil, &doc))
	require.Equal(t, "3.0.3", doc.OpenAPI)
	src, err := os.ReadFile("server.go")
	require.NoError(t, err)
	routes := regexp.MustCompile(`api\.HandleFunc\("(GET|POST) (/api/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	require.NotEmpty(t, routes)
	for _, r := range routes {
		path := strings.ReplaceAll(r[2], "{path...}", "{path}")
		ops, ok := doc.Paths[path]
		require.True(t, ok, "openapi.json lacks %s", path)
		require.Contains(t, ops, strings.ToLower(r[1]), "openapi.json lacks %s %s", r[1], path)
	}
}

// subscribe reads the SSE stream and sends each data line.
func (c *client) subscribe(project string) <-chan string {
	req, _ := http.NewRequest("GET", c.url+"/api/events?project="+project, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	require.Equal(c.t, "text/event-stream", resp.Header.Get("Content-Type"))
	ch := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case ch <- data:
				default:
				}
			}
		}
	}()
	c.t.Cleanup(func() { resp.Body.Close() })
	return ch
}

func (c *client) waitStep(id string, step tinyml.StepName) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var r tinyml.Run
		c.do("GET", "/api/runs/"+id, "", nil, &r)
		switch st := r.Step(step); st.Status {
		case tinyml.Generated:
			return
		case tinyml.Failed, tinyml.Canceled:
			c.t.Fatalf("step %s %s: %s", step, st.Status, st.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("step %s did not finish", step)
}

package main

import (
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/tinyml"
)

//go:embed openapi.json
var openAPI []byte

// maxUpload bounds one request's uploads (models and datasets of TinyML size).
const maxUpload = 512 << 20

// server is the HTTP studio: the seed service's API over a tinyml.Studio, plus a dashboard.
type server struct {
	studio  *tinyml.Studio
	token   string
	uploads string // where uploaded files are kept (they are referenced by runs)
	log     *slog.Logger
}

// handler routes every request; /api needs the bearer token.
func (s *server) handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /api/projects", s.createProject)
	api.HandleFunc("GET /api/projects", s.listProjects)
	api.HandleFunc("POST /api/devices", s.addDevice)
	api.HandleFunc("GET /api/devices", s.listDevices)
	api.HandleFunc("POST /api/projects/{id}/runs", s.createRuns)
	api.HandleFunc("GET /api/projects/{id}/runs", s.projectRuns)
	api.HandleFunc("GET /api/projects/{id}/report", s.projectReport)
	api.HandleFunc("GET /api/runs/{id}", s.getRun)
	api.HandleFunc("POST /api/runs/{id}/model", s.fetch(tinyml.StepModel))
	api.HandleFunc("POST /api/runs/{id}/dataset", s.fetch(tinyml.StepDataset))
	api.HandleFunc("POST /api/runs/{id}/compile", s.background(tinyml.StepCompile))
	api.HandleFunc("POST /api/runs/{id}/install", s.background(tinyml.StepInstall))
	api.HandleFunc("POST /api/runs/{id}/inference", s.background(tinyml.StepInference))
	api.HandleFunc("POST /api/runs/{id}/start", s.startRun)
	api.HandleFunc("POST /api/runs/{id}/cancel", s.cancelRun)
	api.HandleFunc("GET /api/runs/{id}/logs", s.runLogs)
	api.HandleFunc("GET /api/runs/{id}/artifacts/{path...}", s.artifact)
	api.HandleFunc("GET /api/events", s.events)
	api.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s; see GET /api/openapi.json", r.Method, r.URL.Path))
	})

	root := http.NewServeMux()
	root.Handle("/api/", s.authorize(api))
	root.HandleFunc("GET /{$}", s.dashboard)
	root.HandleFunc("GET /projects/{id}", s.dashboardProject)
	return root
}

func (s *server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if c, err := r.Cookie(cookieName); !ok && err == nil { // the dashboard's links
			got, ok = c.Value, true
		}
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tinyml"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token: send Authorization: Bearer TOKEN")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// fail maps an error to its HTTP status: unknown IDs 404, taken names 409, the rest 400 (what
// the client sent cannot work) unless the error says otherwise.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, tinyml.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, tinyml.ErrConflict):
		status = http.StatusConflict
	case errors.As(err, &mbe):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, errInternal):
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.log.Error("request", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, strings.Join(strings.Fields(err.Error()), " "))
}

var errInternal = errors.New("internal error")

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

func (s *server) createProject(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.studio.CreateProject(r.Context(), req.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func (s *server) listProjects(w http.ResponseWriter, r *http.Request) {
	ps, err := s.studio.Projects(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: %v", errInternal, err))
		return
	}
	writeJSON(w, http.StatusOK, nonNil(ps))
}

// deviceRequest is a device as the API takes it: sizes as numbers of bytes or text ("64MiB").
type deviceRequest struct {
	Name    string          `json:"name"`
	Kind    string          `json:"kind"`
	Arch    string          `json:"arch"`
	CPUs    float64         `json:"cpus"`
	Memory  json.RawMessage `json:"memory"`
	Storage json.RawMessage `json:"storage"`
	Host    string          `json:"host"` // ssh: user@addr:port
	Key     string          `json:"key"`  // ssh: private key file on the server
}

func parseSize(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return 0, fmt.Errorf("a size is a number of bytes or text such as \"64MiB\"")
	}
	return device.ParseBytes(text)
}

func (s *server) addDevice(w http.ResponseWriter, r *http.Request) {
	var req deviceRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	p := device.Profile{Name: req.Name, Kind: device.Kind(req.Kind), Arch: req.Arch, CPUs: req.CPUs, KeyPath: req.Key}
	var err error
	if p.MemoryBytes, err = parseSize(req.Memory); err != nil {
		s.fail(w, r, fmt.Errorf("memory: %w", err))
		return
	}
	if p.StorageBytes, err = parseSize(req.Storage); err != nil {
		s.fail(w, r, fmt.Errorf("storage: %w", err))
		return
	}
	if req.Host != "" {
		if p.User, p.Host, p.Port, err = device.ParseHost(req.Host); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	d, err := s.studio.AddDevice(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}

func (s *server) listDevices(w http.ResponseWriter, r *http.Request) {
	ds, err := s.studio.Devices(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: %v", errInternal, err))
		return
	}
	writeJSON(w, http.StatusOK, nonNil(ds))
}

// createRuns takes JSON references or a multipart upload, creates the runs, and fetches their
// models and datasets before answering.
func (s *server) createRuns(w http.ResponseWriter, r *http.Request) {
	var m tinyml.Matrix
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		var err error
		if m, err = s.matrixFromUpload(w, r); err != nil {
			s.fail(w, r, err)
			return
		}
	} else {
		var req struct {
			Models    []string `json:"models"`
			Dataset   string   `json:"dataset"`
			Calib     string   `json:"calib"`
			Compress  []string `json:"compress"`
			Devices   []string `json:"devices"`
			Toolchain string   `json:"toolchain"`
		}
		if err := decodeJSON(r, &req); err != nil {
			s.fail(w, r, err)
			return
		}
		m = tinyml.Matrix{Models: req.Models, Dataset: req.Dataset, Calib: req.Calib, Compressions: req.Compress, Devices: req.Devices, Toolchain: req.Toolchain}
	}
	runs, err := s.studio.CreateRuns(r.Context(), r.PathValue("id"), m)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ids := make([]string, len(runs))
	for i, run := range runs {
		ids[i] = run.ID
	}
	if err := s.studio.Fetch(r.Context(), ids...); err != nil {
		s.fail(w, r, fmt.Errorf("%w: %v", errInternal, err))
		return
	}
	out := make([]*tinyml.Run, 0, len(ids))
	for _, id := range ids {
		run, err := s.studio.Run(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, run)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"runs": out})
}

// matrixFromUpload saves the uploaded files (model, dataset, calib) and reads the fields
// (compress, device: repeatable).
func (s *server) matrixFromUpload(w http.ResponseWriter, r *http.Request) (tinyml.Matrix, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		return tinyml.Matrix{}, fmt.Errorf("multipart form: %w", err)
	}
	defer r.MultipartForm.RemoveAll()
	m := tinyml.Matrix{Compressions: r.MultipartForm.Value["compress"], Devices: r.MultipartForm.Value["device"]}
	dir, err := os.MkdirTemp(s.uploads, "upload-")
	if err != nil {
		return m, fmt.Errorf("%w: %v", errInternal, err)
	}
	for _, part := range []string{"model", "dataset", "calib"} {
		files := r.MultipartForm.File[part]
		if len(files) == 0 {
			if refs := r.MultipartForm.Value[part]; len(refs) > 0 { // a reference instead of a file
				assign(&m, part, refs...)
			}
			continue
		}
		var paths []string
		for i, fh := range files {
			p, err := saveUpload(fh, filepath.Join(dir, fmt.Sprintf("%s-%d", part, i)))
			if err != nil {
				return m, err
			}
			paths = append(paths, p)
		}
		assign(&m, part, paths...)
	}
	if len(m.Models) == 0 || m.Dataset == "" {
		return m, errors.New("multipart runs need a model and a dataset (files or references)")
	}
	return m, nil
}

func assign(m *tinyml.Matrix, part string, values ...string) {
	switch part {
	case "model":
		m.Models = append(m.Models, values...)
	case "dataset":
		m.Dataset = values[0]
	case "calib":
		m.Calib = values[0]
	}
}

// saveUpload stores one uploaded file under dir, keeping only its base name.
func saveUpload(fh *multipart.FileHeader, dir string) (string, error) {
	name := filepath.Base(filepath.Clean("/" + strings.ReplaceAll(fh.Filename, "\\", "/")))
	if name == "/" || name == "." || name == "" {
		name = "upload"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%w: %v", errInternal, err)
	}
	src, err := fh.Open()
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst := filepath.Join(dir, name)
	f, err := os.Create(dst)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errInternal, err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return "", err
	}
	return dst, f.Close()
}

func (s *server) projectRuns(w http.ResponseWriter, r *http.Request) {
	runs, err := s.studio.Runs(r.Context(), tinyml.RunFilter{Project: r.PathValue("id"), Status: tinyml.Status(r.URL.Query().Get("status"))})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(runs))
}

func (s *server) projectReport(w http.ResponseWriter, r *http.Request) {
	rep, err := s.studio.Report(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := rep.WriteHTML(w); err != nil {
		s.log.Error("report", "project", r.PathValue("id"), "err", err)
	}
}

func (s *server) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.studio.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

// fetch runs the model or dataset step now, optionally with a new upload or reference, and
// answers 200 with the run, or 422 with the step's error.
func (s *server) fetch(step tinyml.StepName) http.HandlerFunc {
	what := string(step)
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := s.studio.Run(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
		ref := ""
		switch ct := r.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "multipart/form-data"):
			r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
			if err := r.ParseMultipartForm(32 << 20); err != nil {
				s.fail(w, r, fmt.Errorf("multipart form: %w", err))
				return
			}
			defer r.MultipartForm.RemoveAll()
			if files := r.MultipartForm.File[what]; len(files) > 0 {
				dir, err := os.MkdirTemp(s.uploads, "upload-")
				if err != nil {
					s.fail(w, r, fmt.Errorf("%w: %v", errInternal, err))
					return
				}
				if ref, err = saveUpload(files[0], dir); err != nil {
					s.fail(w, r, err)
					return
				}
			}
		case strings.HasPrefix(ct, "application/json"):
			var req struct {
				Ref string `json:"ref"`
			}
			if err := decodeJSON(r, &req); err != nil {
				s.fail(w, r, err)
				return
			}
			ref = req.Ref
		}
		if ref != "" {
			if err := s.studio.SetReference(r.Context(), id, what, ref); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		run, err := s.studio.FetchStep(r.Context(), id, step)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if st := run.Step(step); st.Status != tinyml.Generated {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": st.Error, "run": run})
			return
		}
		writeJSON(w, http.StatusOK, run)
	}
}

// background starts a step and answers 202 with the run; its progress shows in GET /api/runs/{id}
// and /api/events.
func (s *server) background(step tinyml.StepName) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.studio.RunStep(r.Context(), id, step); err != nil {
			s.fail(w, r, err)
			return
		}
		run, err := s.studio.Run(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusAccepted, run)
	}
}

func (s *server) startRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.studio.Start(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	run, err := s.studio.Run(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, run)
}

func (s *server) cancelRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.studio.Cancel(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	run, err := s.studio.Run(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (s *server) runLogs(w http.ResponseWriter, r *http.Request) {
	logs, err := s.studio.Logs(r.Context(), r.PathValue("id"), tinyml.StepName(r.URL.Query().Get("step")))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, logs)
}

// artifact serves a file of the run's volume; the studio refuses paths that leave it.
func (s *server) artifact(w http.ResponseWriter, r *http.Request) {
	p, err := s.studio.ArtifactPath(r.Context(), r.PathValue("id"), r.PathValue("path"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: %v", tinyml.ErrNotFound, err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.fail(w, r, fmt.Errorf("%w: %v", errInternal, err))
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filepath.Base(p)))
	http.ServeContent(w, r, filepath.Base(p), st.ModTime(), f)
}

// events streams step status changes as Server-Sent Events until the client leaves.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("project")
	if project != "" {
		p, err := s.studio.Project(r.Context(), project)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		project = p.ID
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming is not supported by this connection")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": tinyml events\n\n")
	flusher.Flush()
	events := s.studio.Subscribe(r.Context(), project)
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return
			}
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "event: step\ndata: %s\n\n", b)
			flusher.Flush()
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

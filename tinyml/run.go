package tinyml

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinymlaas/tinyml/internal/store"
	"github.com/tinymlaas/tinyml/internal/worker"
)

// Metrics are a run's figures: static ones from compile, measured ones from inference on the
// device, and agreement with the same model's uncompressed run.
type Metrics = worker.Metrics

// Run is one model × dataset × technique × device combination of a project.
type Run struct {
	ID        string    `json:"id"`
	Project   string    `json:"project"`
	Model     string    `json:"model"`
	Dataset   string    `json:"dataset"`
	Calib     string    `json:"calib,omitempty"`
	Technique string    `json:"technique"`
	Device    string    `json:"device"`
	Toolchain string    `json:"toolchain,omitempty"`
	Status    Status    `json:"status"`
	Steps     []Step    `json:"steps"`
	Metrics   *Metrics  `json:"metrics,omitempty"`
	Installed string    `json:"installed,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// Step is one pipeline step of a run.
type Step struct {
	Name     StepName   `json:"name"`
	Status   Status     `json:"status"`
	Error    string     `json:"error"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Attempt  int        `json:"attempt,omitempty"`
}

// Step returns the named step.
func (r *Run) Step(name StepName) Step {
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	return Step{Name: name}
}

// Err describes why the run failed, naming the step, or "" when it did not fail.
func (r *Run) Err() string {
	for _, s := range r.Steps {
		if s.Status == Failed || (s.Status == Canceled && s.Error != "") {
			return fmt.Sprintf("%s: %s", s.Name, s.Error)
		}
	}
	return ""
}

func runOf(r store.Run) (*Run, error) {
	out := &Run{
		ID: r.ID, Project: r.ProjectID, Model: r.Model, Dataset: r.Dataset, Calib: r.Calib, Technique: r.Technique,
		Device: r.Device, Toolchain: r.Toolchain, Status: Status(r.Status), Installed: r.Installed,
		Created: r.Created, Updated: r.Updated,
	}
	for _, s := range r.Steps {
		st := Step{Name: StepName(s.Name), Status: Status(s.Status), Error: s.Error, Attempt: s.Attempt}
		if !s.Started.IsZero() {
			t := s.Started
			st.Started = &t
		}
		if !s.Finished.IsZero() {
			t := s.Finished
			st.Finished = &t
		}
		out.Steps = append(out.Steps, st)
	}
	if len(r.Metrics) > 0 {
		out.Metrics = &Metrics{}
		if err := json.Unmarshal(r.Metrics, out.Metrics); err != nil {
			return nil, fmt.Errorf("run %s: stored metrics: %w", r.ID, err)
		}
	}
	return out, nil
}

// Matrix spans the runs CreateRuns makes: one per model × compression × device, all on the same
// dataset. Models and datasets are local paths (files, directories, .zip/.tar.gz archives) or
// Hub references hf://org/name[@rev][/path].
type Matrix struct {
	Models       []string `json:"models"`
	Dataset      string   `json:"dataset"`
	Calib        string   `json:"calib,omitempty"`
	Compressions []string `json:"compress,omitempty"` // catalogue specs; default ["none"]
	Devices      []string `json:"devices,omitempty"`  // device names; default ["local"]
	Toolchain    string   `json:"toolchain,omitempty"`
}

// CreateRuns creates one run per combination of the matrix in a project, each with its volume
// directory and pending steps. Nothing is fetched or executed yet (see Fetch and Start).
func (s *Studio) CreateRuns(ctx context.Context, project string, m Matrix) ([]*Run, error) {
	p, err := s.store.GetProject(ctx, project)
	if err != nil {
		return nil, err
	}
	if len(m.Models) == 0 {
		return nil, errors.New("create runs: give at least one model")
	}
	if m.Dataset == "" {
		return nil, errors.New("create runs: give a dataset (the test set inference runs over)")
	}
	if len(m.Compressions) == 0 {
		m.Compressions = []string{"none"}
	}
	if len(m.Devices) == 0 {
		m.Devices = []string{"local"}
	}
	for i, spec := range m.Compressions {
		canon, err := canonicalTechnique(spec, m.Calib != "")
		if err != nil {
			return nil, fmt.Errorf("create runs: %w", err)
		}
		m.Compressions[i] = canon
	}
	for _, d := range m.Devices {
		if _, err := s.store.GetDevice(ctx, d); err != nil {
			return nil, fmt.Errorf("create runs: device %q: %w (register it with tinyml device add)", d, err)
		}
	}
	// Local references are kept absolute: the steps may run later, from another directory.
	m.Models = append([]string(nil), m.Models...)
	for _, ref := range append([]*string{&m.Dataset, &m.Calib}, ptrs(m.Models)...) {
		if err := checkRef(*ref); err != nil {
			return nil, fmt.Errorf("create runs: %w", err)
		}
		if *ref != "" && !strings.HasPrefix(*ref, hfScheme) {
			abs, err := filepath.Abs(*ref)
			if err != nil {
				return nil, fmt.Errorf("create runs: %w", err)
			}
			*ref = abs
		}
	}
	var recs []store.Run
	for _, model := range m.Models {
		for _, tech := range m.Compressions {
			for _, dev := range m.Devices {
				recs = append(recs, store.Run{
					Model: model, Dataset: m.Dataset, Calib: m.Calib, Technique: tech, Device: dev, Toolchain: m.Toolchain,
				})
			}
		}
	}
	names := make([]string, 0, 5)
	for _, st := range PipelineSteps() {
		names = append(names, string(st))
	}
	created, err := s.store.CreateRuns(ctx, p.ID, recs, names)
	if err != nil {
		return nil, err
	}
	out := make([]*Run, 0, len(created))
	for _, r := range created {
		if err := os.MkdirAll(filepath.Join(s.runDir(r.ID), "logs"), 0o755); err != nil {
			return nil, err
		}
		run, err := runOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

func ptrs(s []string) []*string {
	out := make([]*string, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

// checkRef rejects references that cannot work before any run is created.
func checkRef(ref string) error {
	if ref == "" || strings.HasPrefix(ref, hfScheme) {
		return checkHubRef(ref)
	}
	if strings.Contains(ref, "://") {
		return fmt.Errorf("%q: use a local path or a Hub reference hf://org/name[@rev][/path]", ref)
	}
	if _, err := os.Stat(ref); err != nil {
		return fmt.Errorf("%q: %w", ref, err)
	}
	return nil
}

func (s *Studio) runDir(id string) string { return filepath.Join(s.dir, "runs", id) }

// Run returns a run with its steps and metrics.
func (s *Studio) Run(ctx context.Context, id string) (*Run, error) {
	r, err := s.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	return runOf(r)
}

// RunFilter selects runs: by project (ID or name) and status; zero fields do not filter.
type RunFilter struct {
	Project string
	Status  Status
}

// Runs lists runs in creation order.
func (s *Studio) Runs(ctx context.Context, f RunFilter) ([]*Run, error) {
	lf := store.ListFilter{Status: string(f.Status)}
	if f.Project != "" {
		p, err := s.store.GetProject(ctx, f.Project)
		if err != nil {
			return nil, err
		}
		lf.ProjectID = p.ID
	}
	recs, err := s.store.ListRuns(ctx, lf)
	if err != nil {
		return nil, err
	}
	out := make([]*Run, 0, len(recs))
	for _, r := range recs {
		run, err := runOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

// Logs returns a step's log (all steps' logs, in order, when step is "").
func (s *Studio) Logs(ctx context.Context, id string, step StepName) (string, error) {
	if _, err := s.store.GetRun(ctx, id); err != nil {
		return "", err
	}
	steps := PipelineSteps()
	if step != "" {
		if !validStep(step) {
			return "", fmt.Errorf("unknown step %q (model, dataset, compile, install, inference)", step)
		}
		steps = []StepName{step}
	}
	var b strings.Builder
	for _, st := range steps {
		data, err := os.ReadFile(s.logPath(id, st))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if step == "" {
			fmt.Fprintf(&b, "== %s ==\n", st)
		}
		b.Write(data)
	}
	return b.String(), nil
}

func (s *Studio) logPath(id string, step StepName) string {
	return filepath.Join(s.runDir(id), "logs", string(step)+".log")
}

func validStep(name StepName) bool {
	for _, s := range PipelineSteps() {
		if s == name {
			return true
		}
	}
	return false
}

// ArtifactPath resolves a path inside a run's volume, refusing anything outside it.
func (s *Studio) ArtifactPath(ctx context.Context, id, rel string) (string, error) {
	if _, err := s.store.GetRun(ctx, id); err != nil {
		return "", err
	}
	clean := filepath.Clean(filepath.FromSlash(rel))
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("artifact %q: %w", rel, ErrNotFound)
	}
	p := filepath.Join(s.runDir(id), clean)
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("artifact %q of run %s: %w", rel, id, ErrNotFound)
	}
	return p, nil
}

// SetReference replaces what a run's model or dataset step fetches (a new upload or Hub
// reference), so the step can run again with it: what is "model", "dataset" or "calib".
func (s *Studio) SetReference(ctx context.Context, id, what, ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if !strings.HasPrefix(ref, hfScheme) {
		abs, err := filepath.Abs(ref)
		if err != nil {
			return err
		}
		ref = abs
	}
	return s.store.SetReference(ctx, id, what, ref)
}

// FetchStep runs the model or dataset step of a run now, in the caller's goroutine, and returns
// the run; a step failure is recorded on the run (and reported by Err), not returned.
func (s *Studio) FetchStep(ctx context.Context, id string, step StepName) (*Run, error) {
	if step != StepModel && step != StepDataset {
		return nil, fmt.Errorf("step %s runs in the background; only model and dataset are fetched now", step)
	}
	r, err := s.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Status == Running {
		return nil, fmt.Errorf("run %s is running; cancel it or wait before fetching again: %w", id, ErrConflict)
	}
	// What was built from the old model or dataset is stale: this step and the later ones start over.
	rec, err := s.store.ResetSteps(ctx, id, string(step))
	if err != nil {
		return nil, err
	}
	if r, err = runOf(rec); err != nil {
		return nil, err
	}
	if err := s.execStep(ctx, r, step); err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return s.Run(ctx, id)
}

package tinyml

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/store"
	"github.com/tinymlaas/tinyml/internal/worker"
	"github.com/tinymlaas/tinyml/runner"
)

// Start executes the pipelines of the given runs in the background, at most the studio's
// concurrency at a time, and returns at once. Steps already generated are kept; failed or
// canceled steps and everything after them run again.
func (s *Studio) Start(ctx context.Context, ids ...string) error {
	var runs []*Run
	for _, id := range ids {
		r, err := s.Run(ctx, id)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		s.launch(r.ID, "")
	}
	return nil
}

// StartProject starts every run of a project that is not generated yet.
func (s *Studio) StartProject(ctx context.Context, project string) ([]string, error) {
	runs, err := s.Runs(ctx, RunFilter{Project: project})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range runs {
		if r.Status != Generated {
			ids = append(ids, r.ID)
		}
	}
	return ids, s.Start(ctx, ids...)
}

// RunStep executes one step of a run in the background (the HTTP studio's step endpoints): the
// steps before it must be generated.
func (s *Studio) RunStep(ctx context.Context, id string, step StepName) error {
	if !validStep(step) {
		return fmt.Errorf("unknown step %q (model, dataset, compile, install, inference)", step)
	}
	r, err := s.Run(ctx, id)
	if err != nil {
		return err
	}
	for _, st := range PipelineSteps() {
		if st == step {
			break
		}
		if r.Step(st).Status != Generated {
			return fmt.Errorf("run %s: step %s needs %s to be generated first (it is %s)", id, step, st, r.Step(st).Status)
		}
	}
	s.launch(id, step)
	return nil
}

// Fetch runs the model and dataset steps of runs now, in the caller's goroutine (the HTTP
// studio answers run creation once they are done or failed). Failures are recorded on the runs,
// not returned: the error is for the store or a cancelled context.
func (s *Studio) Fetch(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		r, err := s.Run(ctx, id)
		if err != nil {
			return err
		}
		for _, st := range []StepName{StepModel, StepDataset} {
			if r.Step(st).Status == Generated {
				continue
			}
			if err := s.execStep(ctx, r, st); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				break
			}
		}
	}
	return nil
}

// launch starts a run's pipeline (or one step of it) unless it is already active.
func (s *Studio) launch(id string, only StepName) {
	s.mu.Lock()
	if _, busy := s.active[id]; busy {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	a := &activeRun{cancel: cancel, done: make(chan struct{})}
	s.active[id] = a
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.active, id)
			s.mu.Unlock()
			cancel()
			close(a.done)
		}()
		if err := s.sem.Acquire(ctx, 1); err != nil {
			s.cancelPending(context.WithoutCancel(ctx), id)
			return
		}
		defer s.sem.Release(1)
		if err := s.pipeline(ctx, id, only); err != nil && ctx.Err() == nil {
			s.log.Error("pipeline", "run", id, "err", err)
		}
	}()
}

// Wait blocks until the runs are no longer executing and returns them.
func (s *Studio) Wait(ctx context.Context, ids ...string) ([]*Run, error) {
	for _, id := range ids {
		s.mu.Lock()
		a := s.active[id]
		s.mu.Unlock()
		if a == nil {
			continue
		}
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]*Run, 0, len(ids))
	for _, id := range ids {
		r, err := s.Run(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Execute starts the runs and waits for them.
func (s *Studio) Execute(ctx context.Context, ids ...string) ([]*Run, error) {
	if err := s.Start(ctx, ids...); err != nil {
		return nil, err
	}
	return s.Wait(ctx, ids...)
}

// Cancel stops a run: its running job is killed and its unfinished steps end canceled.
func (s *Studio) Cancel(ctx context.Context, id string) error {
	if _, err := s.store.GetRun(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	a := s.active[id]
	s.mu.Unlock()
	if a != nil {
		a.cancel()
		select {
		case <-a.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	return s.cancelPending(ctx, id)
}

func (s *Studio) cancelPending(ctx context.Context, id string) error {
	r, err := s.Run(ctx, id)
	if err != nil {
		return err
	}
	for _, st := range r.Steps {
		if st.Status == Pending || st.Status == Running {
			if err := s.setStep(ctx, r, st.Name, store.StepUpdate{Status: store.StatusCanceled, Error: "canceled", Finished: time.Now()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// pipeline runs a run's steps in order (or only one), skipping generated ones and stopping at
// the first failure.
func (s *Studio) pipeline(ctx context.Context, id string, only StepName) error {
	r, err := s.Run(ctx, id)
	if err != nil {
		return err
	}
	// Re-running: a failed or canceled step and all after it go back to pending.
	for _, st := range r.Steps {
		if (only == "" || st.Name == only) && (st.Status == Failed || st.Status == Canceled) {
			rec, err := s.store.ResetSteps(ctx, id, string(st.Name))
			if err != nil {
				return err
			}
			if r, err = runOf(rec); err != nil {
				return err
			}
			break
		}
	}
	for _, st := range PipelineSteps() {
		if only != "" && st != only {
			continue
		}
		if r.Step(st).Status == Generated && only == "" {
			continue
		}
		if err := s.execStep(ctx, r, st); err != nil {
			if ctx.Err() != nil {
				return s.cancelPending(context.WithoutCancel(ctx), id)
			}
			return nil // recorded on the step
		}
	}
	return nil
}

// execStep runs one step with its status transitions recorded and announced.
func (s *Studio) execStep(ctx context.Context, r *Run, st StepName) error {
	now := time.Now()
	if err := s.setStep(ctx, r, st, store.StepUpdate{Status: store.StatusRunning, Started: now, IncAttempt: true, Job: owner()}); err != nil {
		return err
	}
	logf, err := os.OpenFile(s.logPath(r.ID, st), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return s.failStep(r, st, err)
	}
	fmt.Fprintf(logf, "%s %s started (attempt %d)\n", now.UTC().Format(time.RFC3339), st, r.Step(st).Attempt)
	switch st {
	case StepModel:
		err = s.stepModel(ctx, r)
	case StepDataset:
		err = s.stepDataset(ctx, r)
	case StepCompile:
		err = s.stepCompile(ctx, r, logf)
	case StepInstall:
		err = s.stepInstall(ctx, r)
	case StepInference:
		err = s.stepInference(ctx, r, logf)
	}
	if err != nil {
		fmt.Fprintf(logf, "%s %s failed: %v\n", time.Now().UTC().Format(time.RFC3339), st, err)
	} else {
		fmt.Fprintf(logf, "%s %s generated\n", time.Now().UTC().Format(time.RFC3339), st)
	}
	logf.Close()
	bg := context.WithoutCancel(ctx)
	switch {
	case ctx.Err() != nil:
		if uerr := s.setStep(bg, r, st, store.StepUpdate{Status: store.StatusCanceled, Error: "canceled: " + oneLine(err), Finished: time.Now()}); uerr != nil {
			return uerr
		}
		return ctx.Err()
	case err != nil:
		return s.failStep(r, st, err)
	}
	if err := s.setStep(bg, r, st, store.StepUpdate{Status: store.StatusGenerated, Finished: time.Now()}); err != nil {
		return err
	}
	if st == StepInference {
		return s.updateAgreement(bg, r.Project)
	}
	return nil
}

func (s *Studio) failStep(r *Run, st StepName, err error) error {
	if uerr := s.setStep(context.Background(), r, st, store.StepUpdate{Status: store.StatusFailed, Error: oneLine(err), Finished: time.Now()}); uerr != nil {
		return uerr
	}
	return err
}

func oneLine(err error) string {
	if err == nil {
		return ""
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// setStep records a transition, refreshes r, and announces it.
func (s *Studio) setStep(ctx context.Context, r *Run, st StepName, u store.StepUpdate) error {
	rec, err := s.store.UpdateStep(ctx, r.ID, string(st), u)
	if err != nil {
		return err
	}
	fresh, err := runOf(rec)
	if err != nil {
		return err
	}
	*r = *fresh
	step := r.Step(st)
	s.events.publish(Event{Run: r.ID, Project: r.Project, Step: st, Status: step.Status, Error: step.Error, Time: time.Now()})
	return nil
}

// job runs a worker step as a job and returns its result.
func (s *Studio) job(ctx context.Context, rn runner.Runner, base runner.Job, r *Run, st StepName, spec worker.Spec, logw io.Writer) (*worker.Result, runner.Result, error) {
	dir := filepath.Join(s.runDir(r.ID), string(st))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, runner.Result{}, err
	}
	os.Remove(filepath.Join(dir, worker.ResultFile))
	spec.Step = string(st)
	if err := worker.WriteJSON(filepath.Join(dir, worker.SpecFile), spec); err != nil {
		return nil, runner.Result{}, err
	}
	job := base
	job.Name = r.ID + "-" + string(st)
	job.Volume = s.runDir(r.ID)
	if d, ok := rn.(interface {
		DefaultImage(context.Context) (string, error)
	}); ok && job.Image == "" { // a container runner's own worker image (the Docker runner's)
		img, err := d.DefaultImage(ctx)
		if err != nil {
			return nil, runner.Result{}, err
		}
		job.Image = img
	}
	if job.Image == "" { // a local process: this program (or the configured worker) runs the step
		job.Command = append(append([]string{}, s.workerCmd...), "step", string(st))
		if job.Env == nil {
			job.Env = map[string]string{}
		}
		for k, v := range s.workerEnv {
			job.Env[k] = v
		}
	} else {
		job.Command = []string{"step", string(st)}
	}
	var stderr tail
	job.Stdout = logw
	job.Stderr = io.MultiWriter(logw, &stderr)
	res, err := rn.Run(ctx, job)
	if err != nil {
		return nil, res, err
	}
	out, rerr := worker.ReadResult(filepath.Join(dir, worker.ResultFile))
	if res.ExitCode != 0 {
		if rerr == nil && out.Error != "" {
			return nil, res, errors.New(out.Error)
		}
		return nil, res, fmt.Errorf("the %s job exited with code %d: %s", st, res.ExitCode, stderr.last())
	}
	if rerr != nil {
		return nil, res, fmt.Errorf("the %s job wrote no result: %w", st, rerr)
	}
	if !out.OK {
		return nil, res, errors.New(out.Error)
	}
	return out, res, nil
}

func (s *Studio) stepCompile(ctx context.Context, r *Run, logw io.Writer) error {
	ix, err := s.readIndex(r.ID)
	if err != nil {
		return err
	}
	base := runner.Job{Image: r.Toolchain}
	res, _, err := s.job(ctx, s.runner, base, r, StepCompile, worker.Spec{
		Model: ix.Model, Calib: ix.Calib, Technique: r.Technique, Out: "compile/model.onnx",
	}, logw)
	if err != nil {
		return err
	}
	return s.mergeMetrics(ctx, r, func(m *Metrics) {
		if res.Metrics != nil {
			acc := *m
			*m = *res.Metrics
			// Keep what inference measured if the run is being recompiled over an old result.
			m.Samples, m.Correct, m.Accuracy = acc.Samples, acc.Correct, acc.Accuracy
		}
	})
}

// artifact is what install puts on the device: the packed file when the compile step made one.
func (s *Studio) artifact(r *Run) (device.Artifact, error) {
	vol := s.runDir(r.ID)
	for _, rel := range []string{worker.PackedPath("compile/model.onnx"), "compile/model.onnx"} {
		if st, err := os.Stat(filepath.Join(vol, rel)); err == nil {
			return device.Artifact{Volume: vol, Path: rel, Bytes: st.Size()}, nil
		}
	}
	return device.Artifact{}, errors.New("no compiled model in the run volume; run the compile step first")
}

func (s *Studio) installer(ctx context.Context, r *Run) (device.Profile, device.Installer, error) {
	d, err := s.Device(ctx, r.Device)
	if err != nil {
		return device.Profile{}, nil, fmt.Errorf("device %q: %w", r.Device, err)
	}
	in, ok := s.installers[d.Kind]
	if !ok {
		return device.Profile{}, nil, fmt.Errorf("device %s: no installer for kind %q in this studio", d.Name, d.Kind)
	}
	return d.Profile, in, nil
}

func (s *Studio) stepInstall(ctx context.Context, r *Run) error {
	p, in, err := s.installer(ctx, r)
	if err != nil {
		return err
	}
	a, err := s.artifact(r)
	if err != nil {
		return err
	}
	ref, err := in.Install(ctx, p, a)
	if err != nil {
		return err
	}
	return s.store.SetInstalled(ctx, r.ID, ref)
}

func (s *Studio) stepInference(ctx context.Context, r *Run, logw io.Writer) error {
	p, in, err := s.installer(ctx, r)
	if err != nil {
		return err
	}
	ix, err := s.readIndex(r.ID)
	if err != nil {
		return err
	}
	rec, err := s.store.GetRun(ctx, r.ID)
	if err != nil {
		return err
	}
	if rec.Installed == "" {
		return errors.New("nothing is installed; run the install step first")
	}
	rn, base := in.Inference(p, s.runDir(r.ID), rec.Installed)
	model := rec.Installed
	if l, ok := in.(device.ModelLocator); ok { // in an image or on a board, not in the volume
		model = l.ModelPath(rec.Installed)
	}
	res, jr, err := s.job(ctx, rn, base, r, StepInference, worker.Spec{
		Model: model, Dataset: ix.Test, Batch: 1, Repeat: 1,
	}, logw)
	if err != nil {
		return err
	}
	return s.mergeMetrics(ctx, r, func(m *Metrics) {
		if res.Metrics == nil {
			return
		}
		inf := res.Metrics
		m.Samples, m.Correct, m.Accuracy, m.Top5, m.Batch = inf.Samples, inf.Correct, inf.Accuracy, inf.Top5, inf.Batch
		m.Latency, m.LoadMS, m.Throughput, m.Classes, m.Confusion = inf.Latency, inf.LoadMS, inf.Throughput, inf.Classes, inf.Confusion
		m.PeakMemoryBytes = jr.PeakMemoryBytes
		m.Agreement, m.MaxDiff = nil, nil
	})
}

func (s *Studio) mergeMetrics(ctx context.Context, r *Run, f func(*Metrics)) error {
	rec, err := s.store.GetRun(ctx, r.ID)
	if err != nil {
		return err
	}
	var m Metrics
	if len(rec.Metrics) > 0 {
		if err := json.Unmarshal(rec.Metrics, &m); err != nil {
			return err
		}
	}
	f(&m)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.store.SetMetrics(ctx, r.ID, b)
}

// updateAgreement compares each finished run of a project with its baseline: the same model and
// dataset compiled with "none" (on the same device when there is one), by their raw outputs.
func (s *Studio) updateAgreement(ctx context.Context, project string) error {
	runs, err := s.Runs(ctx, RunFilter{Project: project})
	if err != nil {
		return err
	}
	done := func(r *Run) bool { return r.Step(StepInference).Status == Generated && r.Metrics != nil }
	for _, r := range runs {
		if !done(r) || r.Metrics.Agreement != nil {
			continue
		}
		var base *Run
		for _, b := range runs {
			if b.Technique == "none" && b.Model == r.Model && b.Dataset == r.Dataset && done(b) && (base == nil || b.Device == r.Device) {
				base = b
			}
		}
		if base == nil {
			continue
		}
		agree, diff, err := s.compareOutputs(base.ID, r.ID)
		if err != nil {
			s.log.Warn("agreement", "run", r.ID, "baseline", base.ID, "err", err)
			continue
		}
		if err := s.mergeMetrics(ctx, r, func(m *Metrics) { m.Agreement, m.MaxDiff = &agree, &diff }); err != nil {
			return err
		}
	}
	return nil
}

func (s *Studio) compareOutputs(baseID, id string) (agree, maxDiff float64, err error) {
	read := func(run string) (*dataset.Array, error) {
		f, err := os.Open(filepath.Join(s.runDir(run), string(StepInference), worker.OutputsFile))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return dataset.ReadNPY(f)
	}
	a, err := read(baseID)
	if err != nil {
		return 0, 0, err
	}
	b, err := read(id)
	if err != nil {
		return 0, 0, err
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 || a.Shape[0] != b.Shape[0] || a.Shape[1] != b.Shape[1] {
		return 0, 0, fmt.Errorf("outputs %v and %v differ in shape", a.Shape, b.Shape)
	}
	n, k := a.Shape[0], a.Shape[1]
	same := 0
	for i := range n {
		ra, rb := a.F32[i*k:(i+1)*k], b.F32[i*k:(i+1)*k]
		if argmax(ra) == argmax(rb) {
			same++
		}
		for j := range k {
			maxDiff = math.Max(maxDiff, math.Abs(float64(ra[j]-rb[j])))
		}
	}
	return float64(same) / float64(n), maxDiff, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// tail keeps the last line written, for error messages of jobs that wrote no result.
type tail struct{ buf []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) last() string {
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return "no output"
}

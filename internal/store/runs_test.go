package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newRuns(t testing.TB, s *Store, project string, n int) []Run {
	t.Helper()
	ctx := context.Background()
	p, err := s.GetProject(ctx, project)
	if err != nil {
		p, err = s.CreateProject(ctx, project)
		require.NoError(t, err)
	}
	in := make([]Run, n)
	for i := range in {
		in[i] = Run{Model: fmt.Sprintf("hf://org/model-%d", i), Dataset: "testdata/iris.csv", Calib: "calib.csv",
			Technique: "prune(sparsity=0.5) | int8-static", Device: "local", Toolchain: "img:1"}
	}
	runs, err := s.CreateRuns(ctx, p.ID, in, pipeline)
	require.NoError(t, err)
	return runs
}

func stepNames(r Run) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name)
	}
	return out
}

func TestCreateRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	p, err := s.CreateProject(ctx, "p")
	require.NoError(t, err)

	// Steps come back in the order given, not alphabetically.
	order := []string{"model", "dataset", "compile", "install", "inference"}
	runs, err := s.CreateRuns(ctx, "p", []Run{
		{Model: "m.onnx", Dataset: "d.csv", Technique: "int8-dynamic", Device: "local"},
		{Model: "m.onnx", Dataset: "d.csv", Technique: "fp16", Device: "local", Metrics: []byte(`{"x":1}`)},
	}, order)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	for _, r := range runs {
		require.Regexp(t, `^run_[a-z2-7]{12}$`, r.ID)
		require.Equal(t, p.ID, r.ProjectID, "project given by name, stored by ID")
		require.Equal(t, StatusPending, r.Status)
		require.Equal(t, order, stepNames(r))
		for _, st := range r.Steps {
			require.Equal(t, StatusPending, st.Status)
			require.Equal(t, r.ID, st.RunID)
		}
		got, err := s.GetRun(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got, "what CreateRuns returns is what GetRun finds")
	}
	require.NotEqual(t, runs[0].ID, runs[1].ID)

	for _, tc := range []struct {
		name    string
		project string
		runs    []Run
		steps   []string
		want    error
	}{
		{"missing project", "nope", []Run{{}}, pipeline, ErrNotFound},
		{"no steps", p.ID, []Run{{}}, nil, ErrInvalid},
		{"empty step", p.ID, []Run{{}}, []string{"model", ""}, ErrInvalid},
		{"duplicate step", p.ID, []Run{{}}, []string{"model", "model"}, ErrInvalid},
		{"bad metrics", p.ID, []Run{{}, {Metrics: []byte("{")}}, pipeline, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateRuns(ctx, tc.project, tc.runs, tc.steps)
			require.ErrorIs(t, err, tc.want)
		})
	}
	all, err := s.ListRuns(ctx, ListFilter{})
	require.NoError(t, err)
	require.Len(t, all, 2, "failed creations leave nothing behind")

	_, err = s.GetRun(ctx, "run_aaaaaaaaaaaa")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, "run_aaaaaaaaaaaa")
}

func TestRunStatus(t *testing.T) {
	const (
		P = StatusPending
		R = StatusRunning
		G = StatusGenerated
		F = StatusFailed
		C = StatusCanceled
	)
	for _, tc := range []struct {
		steps []string
		want  string
	}{
		{nil, P},
		{[]string{P, P, P}, P},
		{[]string{G, P, P}, P},
		{[]string{G, R, P}, R},
		{[]string{G, G, G}, G},
		{[]string{G, F, P}, F},
		{[]string{G, C, P}, C},
		{[]string{F, C}, F},
		{[]string{F, R}, R},
		{[]string{C, R}, R},
		{[]string{G, G, C}, C},
	} {
		t.Run(fmt.Sprint(tc.steps), func(t *testing.T) {
			steps := make([]Step, len(tc.steps))
			for i, st := range tc.steps {
				steps[i].Status = st
			}
			require.Equal(t, tc.want, RunStatus(steps))
		})
	}
}

// The run's stored status follows its steps through a pipeline's life.
func TestRunStatusThroughUpdates(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		updates [][2]string // step, status
		want    string
	}{
		{"fresh", nil, StatusPending},
		{"model running", [][2]string{{"model", StatusRunning}}, StatusRunning},
		{"model done", [][2]string{{"model", StatusRunning}, {"model", StatusGenerated}}, StatusPending},
		{"compile failed", [][2]string{{"model", StatusGenerated}, {"dataset", StatusGenerated}, {"compile", StatusFailed}}, StatusFailed},
		{"canceled", [][2]string{{"model", StatusGenerated}, {"dataset", StatusCanceled}}, StatusCanceled},
		{"all done", [][2]string{{"model", StatusGenerated}, {"dataset", StatusGenerated}, {"compile", StatusGenerated},
			{"install", StatusGenerated}, {"inference", StatusGenerated}}, StatusGenerated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, "")
			run := newRuns(t, s, "p", 1)[0]
			for _, u := range tc.updates {
				r, err := s.UpdateStep(ctx, run.ID, u[0], StepUpdate{Status: u[1]})
				require.NoError(t, err)
				require.Equal(t, RunStatus(r.Steps), r.Status)
			}
			got, err := s.GetRun(ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Status)
			listed, err := s.ListRuns(ctx, ListFilter{Status: tc.want})
			require.NoError(t, err)
			require.Len(t, listed, 1, "filtering by status finds it")
		})
	}
}

func TestUpdateStep(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	run := newRuns(t, s, "p", 1)[0]
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	t1 := t0.Add(90 * time.Second)

	r, err := s.UpdateStep(ctx, run.ID, "compile", StepUpdate{Status: StatusRunning, Started: t0, Job: "ctr-1", IncAttempt: true})
	require.NoError(t, err)
	require.Equal(t, StatusRunning, r.Status)
	require.True(t, r.Updated.After(run.Updated) || r.Updated.Equal(run.Updated))
	st, ok := r.Step("compile")
	require.True(t, ok)
	require.Equal(t, StatusRunning, st.Status)
	require.True(t, st.Started.Equal(t0))
	require.Equal(t, time.UTC, st.Started.Location())
	require.True(t, st.Finished.IsZero())
	require.Equal(t, "ctr-1", st.Job)
	require.Equal(t, 1, st.Attempt)

	r, err = s.UpdateStep(ctx, run.ID, "compile", StepUpdate{Status: StatusFailed, Finished: t1, Error: "out of memory: give the device more memory"})
	require.NoError(t, err)
	require.Equal(t, StatusFailed, r.Status)
	st, _ = r.Step("compile")
	require.True(t, st.Started.Equal(t0), "Started kept")
	require.True(t, st.Finished.Equal(t1))
	require.Equal(t, "ctr-1", st.Job, "Job kept when not given")
	require.Equal(t, "out of memory: give the device more memory", st.Error)

	// A retry: running again clears the old error and finish time.
	r, err = s.UpdateStep(ctx, run.ID, "compile", StepUpdate{Status: StatusRunning, Started: t1, Job: "ctr-2", IncAttempt: true})
	require.NoError(t, err)
	st, _ = r.Step("compile")
	require.Equal(t, "", st.Error)
	require.True(t, st.Finished.IsZero())
	require.Equal(t, 2, st.Attempt)
	require.Equal(t, "ctr-2", st.Job)

	// Status "" changes nothing but what is given.
	r, err = s.UpdateStep(ctx, run.ID, "compile", StepUpdate{Job: "ctr-3"})
	require.NoError(t, err)
	st, _ = r.Step("compile")
	require.Equal(t, StatusRunning, st.Status)
	require.Equal(t, "ctr-3", st.Job)
	require.Equal(t, 2, st.Attempt)

	// Other steps untouched.
	other, _ := r.Step("model")
	require.Equal(t, run.Steps[0], other)

	got, err := s.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, r, got, "UpdateStep returns what is stored")

	for _, tc := range []struct {
		name, run, step, status string
		want                    error
		msg                     string
	}{
		{"unknown status", run.ID, "compile", "done", ErrInvalid, `"done"`},
		{"unknown run", "run_zzzzzzzzzzzz", "compile", StatusRunning, ErrNotFound, "run_zzzzzzzzzzzz"},
		{"unknown step", run.ID, "deploy", StatusRunning, ErrNotFound, `"deploy"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateStep(ctx, tc.run, tc.step, StepUpdate{Status: tc.status})
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestResetSteps(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	run := newRuns(t, s, "p", 1)[0]
	now := time.Now()
	for _, u := range []struct{ step, status string }{
		{"model", StatusGenerated}, {"dataset", StatusGenerated}, {"compile", StatusFailed},
	} {
		_, err := s.UpdateStep(ctx, run.ID, u.step, StepUpdate{Status: u.status, Started: now, Finished: now, Error: "boom", Job: "j", IncAttempt: true})
		require.NoError(t, err)
	}

	r, err := s.ResetSteps(ctx, run.ID, "compile")
	require.NoError(t, err)
	require.Equal(t, StatusPending, r.Status, "a reset failed run is pending again")
	for _, st := range r.Steps {
		switch st.Name {
		case "model", "dataset":
			require.Equal(t, StatusGenerated, st.Status, "finished steps before are kept")
			require.False(t, st.Finished.IsZero())
		default:
			require.Equal(t, StatusPending, st.Status, st.Name)
			require.Empty(t, st.Error)
			require.Empty(t, st.Job)
			require.True(t, st.Started.IsZero())
			require.True(t, st.Finished.IsZero())
		}
	}
	compile, _ := r.Step("compile")
	require.Equal(t, 1, compile.Attempt, "attempts are history, kept")

	_, err = s.ResetSteps(ctx, run.ID, "deploy")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.ResetSteps(ctx, "run_zzzzzzzzzzzz", "model")
	require.ErrorIs(t, err, ErrNotFound)

	_, err = s.UpdateStep(ctx, run.ID, "install", StepUpdate{Status: StatusRunning})
	require.NoError(t, err)
	_, err = s.ResetSteps(ctx, run.ID, "compile")
	require.ErrorIs(t, err, ErrConflict, "resetting over a running step")
	require.ErrorContains(t, err, `"install"`)
	// Resetting from a step after the running one is fine.
	_, err = s.ResetSteps(ctx, run.ID, "inference")
	require.NoError(t, err)

	// From the first step: everything pending.
	_, err = s.UpdateStep(ctx, run.ID, "install", StepUpdate{Status: StatusCanceled})
	require.NoError(t, err)
	r, err = s.ResetSteps(ctx, run.ID, "model")
	require.NoError(t, err)
	for _, st := range r.Steps {
		require.Equal(t, StatusPending, st.Status)
	}
}

func TestRunningSteps(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	runs := newRuns(t, s, "p", 3)
	none, err := s.RunningSteps(ctx)
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = s.UpdateStep(ctx, runs[2].ID, "compile", StepUpdate{Status: StatusRunning, Job: "4242"})
	require.NoError(t, err)
	_, err = s.UpdateStep(ctx, runs[0].ID, "inference", StepUpdate{Status: StatusRunning, Job: "ctr-a"})
	require.NoError(t, err)
	_, err = s.UpdateStep(ctx, runs[1].ID, "model", StepUpdate{Status: StatusGenerated})
	require.NoError(t, err)

	got, err := s.RunningSteps(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, runs[0].ID, got[0].RunID)
	require.Equal(t, "inference", got[0].Name)
	require.Equal(t, "ctr-a", got[0].Job)
	require.Equal(t, runs[2].ID, got[1].RunID)
	require.Equal(t, "4242", got[1].Job)

	// Start-up reconciliation: mark them failed; nothing stays running.
	for _, st := range got {
		r, err := s.UpdateStep(ctx, st.RunID, st.Name, StepUpdate{Status: StatusFailed, Error: "interrupted: the studio restarted", Finished: time.Now()})
		require.NoError(t, err)
		require.Equal(t, StatusFailed, r.Status)
	}
	got, err = s.RunningSteps(ctx)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestListRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	a := newRuns(t, s, "a", 3)
	b := newRuns(t, s, "b", 2)
	a = append(a, newRuns(t, s, "a", 1)...)
	pa, err := s.GetProject(ctx, "a")
	require.NoError(t, err)
	_, err = s.UpdateStep(ctx, a[1].ID, "model", StepUpdate{Status: StatusFailed})
	require.NoError(t, err)
	_, err = s.UpdateStep(ctx, b[0].ID, "model", StepUpdate{Status: StatusFailed})
	require.NoError(t, err)

	ids := func(runs []Run) []string {
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    ListFilter
		want []string
	}{
		{"all, by creation", ListFilter{}, []string{a[0].ID, a[1].ID, a[2].ID, b[0].ID, b[1].ID, a[3].ID}},
		{"project", ListFilter{ProjectID: pa.ID}, ids(a)},
		{"status", ListFilter{Status: StatusFailed}, []string{a[1].ID, b[0].ID}},
		{"project and status", ListFilter{ProjectID: pa.ID, Status: StatusFailed}, []string{a[1].ID}},
		{"limit", ListFilter{Limit: 2}, []string{a[0].ID, a[1].ID}},
		{"project and limit", ListFilter{ProjectID: pa.ID, Limit: 4}, ids(a)},
		{"nothing", ListFilter{Status: StatusGenerated}, nil},
		{"unknown project", ListFilter{ProjectID: "prj_zzzzzzzzzzzz"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListRuns(ctx, tc.f)
			require.NoError(t, err)
			require.Equal(t, tc.want, ids(got))
			for _, r := range got {
				want, err := s.GetRun(ctx, r.ID)
				require.NoError(t, err)
				require.Equal(t, want, r, "listed runs carry their own steps")
			}
		})
	}
	_, err = s.ListRuns(ctx, ListFilter{Status: "done"})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestSetMetricsAndInstalled(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	run := newRuns(t, s, "p", 1)[0]
	require.Nil(t, run.Metrics)

	require.NoError(t, s.SetMetrics(ctx, run.ID, []byte(`{"accuracy":0.97,"latency_ms":{"p50":0.2}}`)))
	require.NoError(t, s.SetInstalled(ctx, run.ID, "tinyml/run:abc"))
	got, err := s.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"accuracy":0.97,"latency_ms":{"p50":0.2}}`, string(got.Metrics))
	require.Equal(t, "tinyml/run:abc", got.Installed)
	require.False(t, got.Updated.Before(run.Updated))

	require.ErrorIs(t, s.SetMetrics(ctx, run.ID, []byte(`{"accuracy":`)), ErrInvalid)
	require.ErrorIs(t, s.SetMetrics(ctx, "run_zzzzzzzzzzzz", []byte(`{}`)), ErrNotFound)
	require.ErrorIs(t, s.SetInstalled(ctx, "run_zzzzzzzzzzzz", "x"), ErrNotFound)

	require.NoError(t, s.SetMetrics(ctx, run.ID, nil))
	got, err = s.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Nil(t, got.Metrics, "nil clears")
}

// No lost updates: many goroutines update different runs and the same run at
// once, while others read; every update lands.
func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	runs := newRuns(t, s, "p", 200)
	const sameRunWriters = 50

	var wg sync.WaitGroup
	errs := make(chan error, len(runs)*len(pipeline)+sameRunWriters+16)
	for _, r := range runs {
		for _, step := range pipeline {
			wg.Go(func() {
				if _, err := s.UpdateStep(ctx, r.ID, step, StepUpdate{Status: StatusRunning, IncAttempt: true, Job: "j-" + step}); err != nil {
					errs <- err
					return
				}
				if _, err := s.UpdateStep(ctx, r.ID, step, StepUpdate{Status: StatusGenerated, Finished: time.Now()}); err != nil {
					errs <- err
				}
			})
		}
	}
	// The same step of the same run, from many goroutines.
	for range sameRunWriters {
		wg.Go(func() {
			if _, err := s.UpdateStep(ctx, runs[0].ID, "inference", StepUpdate{IncAttempt: true}); err != nil {
				errs <- err
			}
		})
	}
	// Readers alongside.
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if _, err := s.ListRuns(ctx, ListFilter{}); err != nil {
					errs <- err
				}
				if _, err := s.GetRun(ctx, runs[0].ID); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	got, err := s.ListRuns(ctx, ListFilter{})
	require.NoError(t, err)
	require.Len(t, got, len(runs))
	for _, r := range got {
		require.Equal(t, StatusGenerated, r.Status, r.ID)
		for _, st := range r.Steps {
			require.Equal(t, StatusGenerated, st.Status)
			require.Equal(t, "j-"+st.Name, st.Job)
			want := 1
			if r.ID == runs[0].ID && st.Name == "inference" {
				want += sameRunWriters
			}
			require.Equal(t, want, st.Attempt, "%s %s", r.ID, st.Name)
		}
	}
}

// Two Stores on one file (as two processes would be) write at once: the
// immediate transactions and the busy timeout make them queue, not fail.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tinyml.db")
	s1 := openTest(t, path)
	s2 := openTest(t, path)
	runs := newRuns(t, s1, "p", 20)

	var wg sync.WaitGroup
	errs := make(chan error, 2*len(runs)*len(pipeline))
	for i, st := range []*Store{s1, s2} {
		for _, r := range runs {
			for _, step := range pipeline {
				wg.Go(func() {
					if _, err := st.UpdateStep(ctx, r.ID, step, StepUpdate{IncAttempt: true, Job: fmt.Sprint(i)}); err != nil {
						errs <- err
					}
				})
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s2.ListRuns(ctx, ListFilter{})
	require.NoError(t, err)
	for _, r := range got {
		for _, st := range r.Steps {
			require.Equal(t, 2, st.Attempt)
		}
	}
}

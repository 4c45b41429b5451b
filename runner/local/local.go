// Package local runs jobs as child processes of this one.
//
// A job's Command is executed with the run volume as its working directory and $TINYML_VOLUME
// pointing at it, a minimal environment, its output streamed to the step log, and its whole
// process group killed on cancel or timeout. On Linux the child also dies with its parent, so a
// crashed studio leaves no orphan work behind. CPU and memory limits are advisory here (the
// child's GOMAXPROCS and GOMEMLIMIT); a Docker device enforces them.
package local

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tinymlaas/tinyml/runner"
)

// Runner runs jobs as local processes. The zero value is ready to use.
type Runner struct{}

// New returns a local runner.
func New() *Runner { return &Runner{} }

// Name is "local".
func (*Runner) Name() string { return "local" }

// Run executes job.Command and waits for it.
func (r *Runner) Run(ctx context.Context, job runner.Job) (runner.Result, error) {
	if len(job.Command) == 0 {
		return runner.Result{}, fmt.Errorf("job %s: no command to run", job.Name)
	}
	// The job runs inside its volume and finds it through $TINYML_VOLUME: that path must not
	// depend on the working directory.
	if job.Volume != "" {
		abs, err := filepath.Abs(job.Volume)
		if err != nil {
			return runner.Result{}, fmt.Errorf("job %s: volume: %w", job.Name, err)
		}
		job.Volume = abs
	}
	if job.Limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.Limits.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, job.Command[0], job.Command[1:]...)
	cmd.Dir = job.Volume
	cmd.Env = environment(job)
	cmd.Stdout, cmd.Stderr = job.Stdout, job.Stderr
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runner.Result{}, fmt.Errorf("job %s: start %s: %w", job.Name, job.Command[0], err)
	}
	res := runner.Result{Handle: strconv.Itoa(cmd.Process.Pid)}
	err := cmd.Wait()
	res.Duration = time.Since(start)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
		res.PeakMemoryBytes = peakRSS(cmd.ProcessState)
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("job %s: %w after %s", job.Name, runner.ErrTimeout, job.Limits.Timeout)
	case ctx.Err() != nil:
		return res, fmt.Errorf("job %s: %w", job.Name, ctx.Err())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("job %s: %w", job.Name, err)
	}
	return res, nil
}

// environment gives the child only what it needs: no secrets of the parent leak into jobs.
func environment(job runner.Job) []string {
	env := []string{runner.VolumeEnv + "=" + job.Volume}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if c := job.Limits.CPUs; c > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(int(math.Max(1, math.Ceil(c)))))
	}
	if m := job.Limits.MemoryBytes; m > 0 {
		env = append(env, "GOMEMLIMIT="+strconv.FormatInt(m, 10))
	}
	for k, v := range job.Env {
		env = append(env, k+"="+v)
	}
	return env
}

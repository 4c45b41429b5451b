// Package runner defines how a pipeline step is executed: a Job (an executable or image, its
// arguments, the run volume, environment, limits) handed to a Runner, which runs it to the end
// and reports a Result. Adapters live in sub-packages: local (a child process) and docker (a
// container through the Docker Engine API); runnertest is the conformance suite every Runner,
// including a user's own, must pass.
//
// The job contract: the job reads its spec from the volume, writes its result JSON and artifacts
// back into the volume, and logs to stdout/stderr. Exit code 0 means success; otherwise the
// result's error message is what the user sees.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tinymlaas/tinyml/internal/jobspec"
)

// VolumePath is where a container runner mounts the run volume. A local runner uses the host
// directory itself; either way the job finds the volume's path in $TINYML_VOLUME.
const VolumePath = jobspec.VolumePath

// VolumeEnv names the environment variable holding the volume's path as the job sees it.
const VolumeEnv = jobspec.VolumeEnv

// Job is one execution of a step.
type Job struct {
	// Name identifies the job in logs and container names (e.g. "run_x-compile").
	Name string
	// Image is the container image (container runners); Command is the executable and its
	// arguments (local) or the arguments after the image's entrypoint (containers).
	Image   string
	Command []string
	// Volume is the host directory of the run, readable and writable by the job.
	Volume string
	Env    map[string]string
	Limits Limits
	// Network gives the job network access; off by default.
	Network bool
	// Stdout and Stderr receive the job's output (the step log); nil discards it.
	Stdout, Stderr io.Writer
}

// Limits bound a job's resources. Zero means no limit.
type Limits struct {
	CPUs        float64
	MemoryBytes int64
	PIDs        int64
	Timeout     time.Duration
}

// Result is how a job ended.
type Result struct {
	ExitCode  int
	OOMKilled bool
	// PeakMemoryBytes is the job's peak resident memory when the runner can measure it.
	PeakMemoryBytes int64
	Duration        time.Duration
	// Handle identifies the execution (a pid or container id), for logs and reattaching.
	Handle string
}

// Runner executes jobs. Run blocks until the job ends; cancelling ctx stops the job and releases
// everything it held (process, container). A job that ran and exited non-zero is not an error of
// Run: it is reported in Result.ExitCode. Run returns an error when the job could not run or was
// stopped (timeout, cancel, out of memory).
type Runner interface {
	Name() string
	Run(ctx context.Context, job Job) (Result, error)
}

// Errors a Runner reports, testable with errors.Is.
var (
	ErrTimeout     = errors.New("job timed out")
	ErrOutOfMemory = errors.New("job ran out of memory")
	ErrNoImage     = errors.New("image not found")
	ErrUnavailable = errors.New("runner unavailable")
)

// OOMError reports a job killed for exceeding its memory limit.
type OOMError struct{ Limit int64 }

func (e *OOMError) Error() string {
	if e.Limit > 0 {
		return fmt.Sprintf("out of memory: limit %s", FormatBytes(e.Limit))
	}
	return "out of memory"
}

// Is makes errors.Is(err, ErrOutOfMemory) true.
func (e *OOMError) Is(target error) bool { return target == ErrOutOfMemory }

// FormatBytes prints sizes the way device limits are written (64 MiB, 512 KiB).
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

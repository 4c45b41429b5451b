// Package runnertest is the conformance suite for runner.Runner implementations: the built-in
// local and docker runners pass it, and so must a user's own.
//
// The suite needs jobs that behave in known ways. Behave implements them: a program used as the
// job (for the local runner, the test binary itself re-executed from TestMain; for a container
// runner, an image whose entrypoint calls Behave) reads the behaviour from $RUNNERTEST_BEHAVIOUR.
package runnertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/runner"
)

// BehaviourEnv selects what a job program does when it runs Behave.
const BehaviourEnv = "RUNNERTEST_BEHAVIOUR"

// Behaviours a job can have.
const (
	Write = "write" // write result.json (and a log line) into the volume, exit 0
	Fail  = "fail"  // print a message on stderr, exit 3
	Sleep = "sleep" // sleep for a minute (for timeouts and cancellation)
	Env   = "env"   // print $RUNNERTEST_VALUE and the volume path on stdout
	Hog   = "hog"   // allocate and touch 512 MiB (for memory limits)
)

// Behave runs the behaviour named in $RUNNERTEST_BEHAVIOUR and returns the exit code.
func Behave() int {
	vol := os.Getenv(runner.VolumeEnv)
	switch os.Getenv(BehaviourEnv) {
	case Write:
		fmt.Println("writing result")
		if err := os.WriteFile(filepath.Join(vol, "result.json"), []byte(`{"ok":true}`), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			return 1
		}
		return 0
	case Fail:
		fmt.Fprintln(os.Stderr, "model.onnx: bad magic")
		return 3
	case Sleep:
		time.Sleep(time.Minute)
		return 0
	case Env:
		fmt.Printf("value=%s volume=%s\n", os.Getenv("RUNNERTEST_VALUE"), vol)
		return 0
	case Hog:
		b := make([]byte, 512<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println(len(b))
		return 0
	}
	fmt.Fprintln(os.Stderr, "runnertest: unknown behaviour", os.Getenv(BehaviourEnv))
	return 2
}

// JobFunc makes a job with the given behaviour over a volume directory (the suite sets Env
// values, Limits and output writers on what it returns).
type JobFunc func(t *testing.T, behaviour, volume string) runner.Job

// Options select the parts of the suite a runner supports.
type Options struct {
	// EnforcesMemory: the runner applies Limits.MemoryBytes (containers do; processes do not).
	EnforcesMemory bool
}

// Run runs the conformance suite against r.
func Run(t *testing.T, r runner.Runner, job JobFunc, opts Options) {
	t.Run("success writes into the volume and streams logs", func(t *testing.T) {
		vol := t.TempDir()
		var out syncBuffer
		j := job(t, Write, vol)
		j.Stdout = &out
		res, err := r.Run(context.Background(), j)
		require.NoError(t, err)
		require.Equal(t, 0, res.ExitCode)
		b, err := os.ReadFile(filepath.Join(vol, "result.json"))
		require.NoError(t, err)
		require.JSONEq(t, `{"ok":true}`, string(b))
		require.Contains(t, out.String(), "writing result")
		require.NotEmpty(t, res.Handle)
	})
	t.Run("a volume given as a relative path is the same directory for the job", func(t *testing.T) {
		parent := t.TempDir()
		t.Chdir(parent)
		require.NoError(t, os.Mkdir("vol", 0o755))
		res, err := r.Run(context.Background(), job(t, Write, "vol"))
		require.NoError(t, err)
		require.Equal(t, 0, res.ExitCode)
		_, err = os.Stat(filepath.Join(parent, "vol", "result.json"))
		require.NoError(t, err, "the job wrote its result elsewhere")
	})
	t.Run("a failing job reports its exit code and message", func(t *testing.T) {
		var errOut syncBuffer
		j := job(t, Fail, t.TempDir())
		j.Stderr = &errOut
		res, err := r.Run(context.Background(), j)
		require.NoError(t, err)
		require.Equal(t, 3, res.ExitCode)
		require.Contains(t, errOut.String(), "bad magic")
	})
	t.Run("environment reaches the job", func(t *testing.T) {
		var out syncBuffer
		j := job(t, Env, t.TempDir())
		if j.Env == nil {
			j.Env = map[string]string{}
		}
		j.Env["RUNNERTEST_VALUE"] = "42"
		j.Stdout = &out
		_, err := r.Run(context.Background(), j)
		require.NoError(t, err)
		require.Contains(t, out.String(), "value=42")
		require.Contains(t, out.String(), "volume=/")
	})
	t.Run("timeout stops the job", func(t *testing.T) {
		j := job(t, Sleep, t.TempDir())
		j.Limits.Timeout = 500 * time.Millisecond
		start := time.Now()
		_, err := r.Run(context.Background(), j)
		require.ErrorIs(t, err, runner.ErrTimeout)
		require.Less(t, time.Since(start), 30*time.Second)
	})
	t.Run("cancel stops the job", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(500*time.Millisecond, cancel)
		start := time.Now()
		_, err := r.Run(ctx, job(t, Sleep, t.TempDir()))
		require.Error(t, err)
		require.True(t, errors.Is(err, context.Canceled), "got %v", err)
		require.Less(t, time.Since(start), 30*time.Second)
	})
	if opts.EnforcesMemory {
		t.Run("a job over its memory limit is reported as out of memory", func(t *testing.T) {
			j := job(t, Hog, t.TempDir())
			j.Limits.MemoryBytes = 64 << 20
			_, err := r.Run(context.Background(), j)
			require.ErrorIs(t, err, runner.ErrOutOfMemory)
			require.ErrorContains(t, err, "out of memory: limit 64 MiB")
		})
	}
	t.Run("jobs run concurrently", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				vol := t.TempDir()
				_, errs[i] = r.Run(context.Background(), job(t, Write, vol))
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	})
}

// syncBuffer is a strings.Builder safe for the runner's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

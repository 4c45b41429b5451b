package local_test

import (
	"os"
	"testing"

	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/local"
	"github.com/tinymlaas/tinyml/runner/runnertest"
)

// TestMain lets the test binary double as the job program.
func TestMain(m *testing.M) {
	if os.Getenv(runnertest.BehaviourEnv) != "" {
		os.Exit(runnertest.Behave())
	}
	os.Exit(m.Run())
}

func TestLocalRunnerConforms(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runnertest.Run(t, local.New(), func(t *testing.T, behaviour, volume string) runner.Job {
		return runner.Job{
			Name: t.Name(), Command: []string{self}, Volume: volume,
			Env: map[string]string{runnertest.BehaviourEnv: behaviour},
		}
	}, runnertest.Options{})
}

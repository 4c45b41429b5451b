package device

import (
	"context"

	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/local"
)

// LocalInstaller installs on this host: the compiled model stays in the run volume, and inference
// runs as a local process under the profile's (advisory) limits.
type LocalInstaller struct{}

// Install checks the storage limit; the model is already where a local job reads it.
func (LocalInstaller) Install(_ context.Context, p Profile, a Artifact) (string, error) {
	if err := CheckStorage(p, a); err != nil {
		return "", err
	}
	return a.Path, nil
}

// Inference runs as a local process with the profile's limits (advisory on a host).
func (LocalInstaller) Inference(p Profile, volume, _ string) (runner.Runner, runner.Job) {
	return local.New(), runner.Job{Volume: volume, Limits: p.Limits()}
}

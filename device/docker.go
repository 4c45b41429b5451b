package device

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tinymlaas/tinyml/internal/image"
	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/docker"
)

// ModelLocator is implemented by installers whose installed model is not at its volume path
// where inference runs (inside an image, or on a board): ModelPath says where the inference
// job finds it, as a path relative to the job's $TINYML_VOLUME. The studio puts it in the
// inference step's spec.
type ModelLocator interface {
	ModelPath(ref string) string
}

// InferenceRepository is the repository of the inference images a DockerInstaller makes; the
// tag is a hash of the worker and the model.
const InferenceRepository = "tinyml-inference"

// DockerInstaller installs on a docker device: a resource-limited container standing in for a
// small board. Install assembles the run's inference image (the static worker plus the
// compiled model at /model/model.onnx) and loads it into the engine; inference runs in a
// container of that image under the device's CPU and memory limits.
type DockerInstaller struct {
	// Runner returns the engine's runner (created on first use, so that registering the
	// installer never needs a running engine).
	Runner func() (*docker.Runner, error)
}

// NewDockerInstaller installs through r.
func NewDockerInstaller(r *docker.Runner) *DockerInstaller {
	return &DockerInstaller{Runner: func() (*docker.Runner, error) { return r, nil }}
}

// Install checks the storage limit, then makes and loads the inference image; the reference
// (tinyml-inference:<hash>) is what was installed.
func (d *DockerInstaller) Install(ctx context.Context, p Profile, a Artifact) (string, error) {
	if err := CheckStorage(p, a); err != nil {
		return "", err
	}
	r, err := d.Runner()
	if err != nil {
		return "", err
	}
	arch, err := r.Arch(ctx)
	if err != nil {
		return "", err
	}
	if p.Arch != "" && p.Arch != arch {
		return "", fmt.Errorf("device %s is %s, but the Docker engine runs %s containers; register the device with --arch %s (or use an engine of that architecture)",
			p.Name, p.Arch, arch, arch)
	}
	bin, err := r.WorkerBinary(ctx, arch)
	if err != nil {
		return "", err
	}
	spec := image.Inference(bin, arch, filepath.Join(a.Volume, a.Path))
	ref, err := spec.Ref(InferenceRepository)
	if err != nil {
		return "", err
	}
	if err := r.EnsureImage(ctx, ref, spec.Build); err != nil {
		return "", err
	}
	return ref, nil
}

// Inference runs in a container of the installed image, with the device's limits.
func (d *DockerInstaller) Inference(p Profile, volume, ref string) (runner.Runner, runner.Job) {
	job := runner.Job{Image: ref, Volume: volume, Limits: p.Limits()}
	r, err := d.Runner()
	if err != nil {
		return failing{err}, job
	}
	return r, job
}

// ModelPath is the model inside the inference image, relative to the mounted volume.
func (d *DockerInstaller) ModelPath(string) string {
	rel, err := filepath.Rel(runner.VolumePath, image.ModelPath)
	if err != nil {
		return image.ModelPath
	}
	return filepath.ToSlash(rel)
}

// failing is a runner that could not be set up.
type failing struct{ err error }

func (failing) Name() string { return "unavailable" }
func (f failing) Run(context.Context, runner.Job) (runner.Result, error) {
	return runner.Result{}, f.err
}

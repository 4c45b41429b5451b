package tinyml_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/internal/image"
	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/runner/docker"
	"github.com/tinymlaas/tinyml/tinyml"
)

// dockerStudio opens a studio whose compile jobs run in containers, and checks when the test
// ends that no container of its runs is left.
func dockerStudio(t *testing.T) *tinyml.Studio {
	t.Helper()
	testenv.Docker(t)
	s := openStudio(t, tinyml.WithDocker())
	r, err := s.DockerRunner()
	require.NoError(t, err)
	t.Cleanup(func() { requireNoContainersOf(t, s, r) })
	return s
}

func requireNoContainersOf(t *testing.T, s *tinyml.Studio, r *docker.Runner) {
	ctx := context.Background()
	runs, err := s.Runs(ctx, tinyml.RunFilter{})
	require.NoError(t, err)
	for _, run := range runs {
		for _, st := range tinyml.PipelineSteps() {
			ids, err := r.Containers(ctx, run.ID+"-"+string(st))
			require.NoError(t, err)
			require.Empty(t, ids, "a container of %s %s is left", run.ID, st)
		}
	}
}

// staticProgram builds a program of runner/docker/testdata with CGO_ENABLED=0.
func staticProgram(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, "./runner/docker/testdata/"+name)
	cmd.Dir = testenv.RepoFile(t, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	return out
}

// programImage loads an image whose entrypoint is a testdata program.
func programImage(t *testing.T, s *tinyml.Studio, program string, env ...string) string {
	t.Helper()
	r, err := s.DockerRunner()
	require.NoError(t, err)
	spec := image.Spec{Arch: runtime.GOARCH, Files: []image.File{{Path: "/" + program, Mode: 0o755, Source: staticProgram(t, program)}},
		Entrypoint: []string{"/" + program}, Env: env, User: image.User}
	ref, err := spec.Ref("tinyml-test-" + program)
	require.NoError(t, err)
	require.NoError(t, r.EnsureImage(context.Background(), ref, spec.Build))
	return ref
}

func digits(t *testing.T) (model, data string) {
	return testenv.RepoFile(t, "testdata/models/digits_mlp.onnx"), testenv.RepoFile(t, "testdata/data/digits_test.csv")
}

func TestADockerDeviceRunsTheWholePipelineInContainers(t *testing.T) {
	ctx := context.Background()
	s := dockerStudio(t)
	_, err := s.AddDevice(ctx, device.Profile{Name: "board", Kind: device.Docker, CPUs: 0.5, MemoryBytes: 64 << 20, StorageBytes: 4 << 20})
	require.NoError(t, err)
	_, err = s.CreateProject(ctx, "docker")
	require.NoError(t, err)
	model, data := digits(t)
	runs, err := s.CreateRuns(ctx, "docker", tinyml.Matrix{Models: []string{model}, Dataset: data, Devices: []string{"board", "local"}})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID, runs[1].ID)
	require.NoError(t, err)
	byDevice := map[string]*tinyml.Run{}
	for _, r := range done {
		require.Equal(t, tinyml.Generated, r.Status, r.Err())
		byDevice[r.Device] = r
	}
	board, local := byDevice["board"], byDevice["local"]
	require.True(t, strings.HasPrefix(board.Installed, device.InferenceRepository+":"), board.Installed)
	require.Equal(t, local.Metrics.Accuracy, board.Metrics.Accuracy, "the same model gives the same answers in the container")
	require.Equal(t, local.Metrics.Correct, board.Metrics.Correct)
	require.Equal(t, 360, board.Metrics.Samples)
	logs, err := s.Logs(ctx, board.ID, tinyml.StepCompile)
	require.NoError(t, err)
	require.Contains(t, logs, "compile generated")
}

func TestAModelBiggerThanTheDockerDeviceIsRefusedWithBothSizes(t *testing.T) {
	ctx := context.Background()
	s := openStudio(t) // install is refused before any engine is needed
	_, err := s.AddDevice(ctx, device.Profile{Name: "tiny", Kind: device.Docker, StorageBytes: 1 << 10})
	require.NoError(t, err)
	_, err = s.CreateProject(ctx, "p")
	require.NoError(t, err)
	model, data := digits(t)
	runs, err := s.CreateRuns(ctx, "p", tinyml.Matrix{Models: []string{model}, Dataset: data, Devices: []string{"tiny"}})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	st := done[0].Step(tinyml.StepInstall)
	require.Equal(t, tinyml.Failed, st.Status)
	require.Contains(t, st.Error, "1.0 KiB of storage")
	require.Contains(t, st.Error, "KiB but device tiny")
}

func TestACustomToolchainImageCompilesARun(t *testing.T) {
	ctx := context.Background()
	s := dockerStudio(t)
	toolchain := programImage(t, s, "toolchain")
	_, err := s.CreateProject(ctx, "custom")
	require.NoError(t, err)
	model, data := digits(t)
	runs, err := s.CreateRuns(ctx, "custom", tinyml.Matrix{Models: []string{model}, Dataset: data, Toolchain: toolchain})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, tinyml.Generated, done[0].Status, done[0].Err())
	logs, err := s.Logs(ctx, runs[0].ID, tinyml.StepCompile)
	require.NoError(t, err)
	require.Contains(t, logs, "custom toolchain: compile model/model.onnx -> compile/model.onnx")
	require.InDelta(t, 0.98, done[0].Metrics.Accuracy, 0.01)
}

func TestDockerFaultsFailTheStepWithItsCauseAndSpareOtherRuns(t *testing.T) {
	ctx := context.Background()
	s := dockerStudio(t)
	sleeper := programImage(t, s, "behave", "RUNNERTEST_BEHAVIOUR=sleep")
	_, err := s.CreateProject(ctx, "faults")
	require.NoError(t, err)
	model, data := digits(t)
	mk := func(toolchain string) string {
		runs, err := s.CreateRuns(ctx, "faults", tinyml.Matrix{Models: []string{model}, Dataset: data, Toolchain: toolchain})
		require.NoError(t, err)
		return runs[0].ID
	}
	missing, killed, healthy := mk("tinyml-no-such-toolchain:1"), mk(sleeper), mk("")
	r, err := s.DockerRunner()
	require.NoError(t, err)
	go func() { // kill the sleeping compile container from outside, as `docker kill` would
		for range 600 {
			time.Sleep(100 * time.Millisecond)
			ids, _ := r.Containers(ctx, killed+"-compile")
			if len(ids) == 1 {
				time.Sleep(300 * time.Millisecond)
				r.Client().ContainerKill(ctx, ids[0], client.ContainerKillOptions{Signal: "KILL"})
				return
			}
		}
	}()
	done, err := s.Execute(ctx, missing, killed, healthy)
	require.NoError(t, err)
	got := map[string]*tinyml.Run{}
	for _, r := range done {
		got[r.ID] = r
	}
	st := got[missing].Step(tinyml.StepCompile)
	require.Equal(t, tinyml.Failed, st.Status)
	require.Contains(t, st.Error, "image not found")
	require.Contains(t, st.Error, "never pulls")
	st = got[killed].Step(tinyml.StepCompile)
	require.Equal(t, tinyml.Failed, st.Status)
	require.Contains(t, st.Error, "stopped from outside")
	require.Equal(t, tinyml.Generated, got[healthy].Status, got[healthy].Err())
}

func TestAnExportedImageReproducesTheRunsAccuracy(t *testing.T) {
	testenv.Docker(t)
	if _, err := exec.LookPath("docker"); err != nil {
		testenv.Missing(t, "the docker command", "apt-get install -y docker.io")
	}
	ctx := context.Background()
	s := openStudio(t)
	_, err := s.CreateProject(ctx, "export")
	require.NoError(t, err)
	model, data := digits(t)
	runs, err := s.CreateRuns(ctx, "export", tinyml.Matrix{Models: []string{model}, Dataset: data})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	run := done[0]
	require.Equal(t, tinyml.Generated, run.Status, run.Err())

	archive := filepath.Join(t.TempDir(), "image.tar")
	exp, err := s.Export(ctx, run.ID, tinyml.ExportOptions{Format: tinyml.ExportDockerArchive, Path: archive})
	require.NoError(t, err)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", exp.Ref).Run() })
	out, err := exec.Command("docker", "load", "-i", archive).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), exp.Ref)

	// The run's own test set, as the volume holds it, mounted read-only at /data.
	var ix struct{ Test string }
	b, err := os.ReadFile(filepath.Join(s.Dir(), "runs", run.ID, "index.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &ix))
	testSet := filepath.Join(s.Dir(), "runs", run.ID, filepath.FromSlash(ix.Test))
	require.NoError(t, os.Chmod(filepath.Dir(testSet), 0o755))
	out, err = exec.Command("docker", "run", "--rm", "--pull", "never", "--network", "none",
		"-v", filepath.Dir(testSet)+":/data:ro", exp.Ref, "--dataset", "/data/"+filepath.Base(testSet)).Output()
	require.NoError(t, err, "%s", out)
	var m struct {
		Accuracy float64 `json:"accuracy"`
		Correct  int     `json:"correct"`
		Samples  int     `json:"samples"`
		Latency  struct {
			P50 float64 `json:"p50"`
		} `json:"latency_ms"`
	}
	require.NoError(t, json.Unmarshal(out, &m), "%s", out)
	require.Equal(t, run.Metrics.Accuracy, m.Accuracy)
	require.Equal(t, run.Metrics.Correct, m.Correct)
	require.Equal(t, run.Metrics.Samples, m.Samples)
	require.Positive(t, m.Latency.P50)

	// An OCI layout holds the same image, valid by go-containerregistry's conformance checks.
	dir := filepath.Join(t.TempDir(), "oci")
	oci, err := s.Export(ctx, run.ID, tinyml.ExportOptions{Format: tinyml.ExportOCI, Path: dir})
	require.NoError(t, err)
	require.Equal(t, exp.Digest, oci.Digest)
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	idx, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	require.Equal(t, exp.Ref, im.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	img, err := p.Image(im.Manifests[0].Digest)
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
}

func TestAnExportPushesToARegistry(t *testing.T) {
	ctx := context.Background()
	s := openStudio(t)
	_, err := s.CreateProject(ctx, "push")
	require.NoError(t, err)
	model, data := digits(t)
	runs, err := s.CreateRuns(ctx, "push", tinyml.Matrix{Models: []string{model}, Dataset: data})
	require.NoError(t, err)
	_, err = s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)

	reg := httptest.NewServer(registry.New())
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	exp, err := s.Export(ctx, runs[0].ID, tinyml.ExportOptions{Push: host + "/tinyml/digits:v1"})
	require.NoError(t, err)
	require.Equal(t, host+"/tinyml/digits:v1@"+exp.Digest, exp.Ref)
	ref, err := name.ParseReference(host + "/tinyml/digits:v1")
	require.NoError(t, err)
	img, err := remote.Image(ref, remote.WithContext(ctx))
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	require.Equal(t, exp.Digest, d.String())
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, []string{image.WorkerPath}, cf.Config.Entrypoint)
	require.Equal(t, runtime.GOARCH, cf.Architecture)
	require.Equal(t, runs[0].ID, cf.Config.Labels[image.LabelRun])
	require.NoError(t, validate.Image(img))

	_, err = s.Export(ctx, runs[0].ID, tinyml.ExportOptions{Format: "zip", Path: "x"})
	require.ErrorContains(t, err, "docker-archive or oci")
}

func TestAnSSHBoardRunsInferenceAndGetsTheSameAccuracy(t *testing.T) {
	srv := testenv.SSHD(t)
	ctx := context.Background()
	s := openStudio(t)
	_, err := s.AddDevice(ctx, device.Profile{Name: "pi", Kind: device.SSH, Host: srv.Host, Port: srv.Port, User: srv.User, KeyPath: srv.KeyPath, CPUs: 1})
	require.NoError(t, err)
	_, err = s.CreateProject(ctx, "ssh")
	require.NoError(t, err)
	model, data := digits(t)
	runs, err := s.CreateRuns(ctx, "ssh", tinyml.Matrix{Models: []string{model}, Dataset: data, Devices: []string{"pi", "local"}})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID, runs[1].ID)
	require.NoError(t, err)
	byDevice := map[string]*tinyml.Run{}
	for _, r := range done {
		require.Equal(t, tinyml.Generated, r.Status, r.Err())
		byDevice[r.Device] = r
	}
	pi := byDevice["pi"]
	require.True(t, strings.HasPrefix(pi.Installed, "ssh://"), pi.Installed)
	u, err := url.Parse(pi.Installed) // the board is this machine: clean its side up
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(u.Query().Get("vol")); os.Remove(u.Query().Get("worker")) })
	require.Equal(t, byDevice["local"].Metrics.Accuracy, pi.Metrics.Accuracy)
	require.Equal(t, 360, pi.Metrics.Samples)
	require.FileExists(t, filepath.Join(s.Dir(), "runs", pi.ID, "inference", "outputs.npy"), "the board's outputs came back")
	kh, err := os.ReadFile(filepath.Join(s.Dir(), "known_hosts"))
	require.NoError(t, err)
	require.Contains(t, string(kh), "ssh-ed25519", "the board's key was recorded on first use")
}

package docker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/image"
	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/docker"
	"github.com/tinymlaas/tinyml/runner/runnertest"
)

var (
	buildDir  string
	buildMu   sync.Mutex
	builtBins = map[string]string{}
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "dockertest-bin-")
	if err != nil {
		panic(err)
	}
	buildDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// program builds one of testdata's programs as a static binary (once per test process).
func program(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := builtBins[name]; ok {
		return p
	}
	out := filepath.Join(buildDir, name)
	cmd := exec.Command("go", "build", "-o", out, "./testdata/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "build %s: %s", name, b)
	builtBins[name] = out
	return out
}

// newRunner returns a docker runner and checks, when the test ends, that none of the
// containers of the jobs it named (see jobName) is left.
func newRunner(t *testing.T, opts ...docker.Option) *docker.Runner {
	t.Helper()
	testenv.Docker(t)
	r, err := docker.New(opts...)
	require.NoError(t, err)
	require.NoError(t, r.Ping(context.Background()))
	t.Cleanup(func() {
		ids, err := r.Containers(context.Background(), "")
		require.NoError(t, err)
		var left []string
		for _, id := range ids {
			info, err := r.Client().ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
			if err == nil && strings.HasPrefix(info.Container.Config.Labels[docker.LabelJob], jobPrefix(t)) {
				left = append(left, id)
			}
		}
		require.Empty(t, left, "containers left behind by %s", t.Name())
		r.Close()
	})
	return r
}

// jobPrefix names this process's jobs of a top-level test, so concurrent test processes
// sharing the engine do not see each other's containers.
func jobPrefix(t *testing.T) string {
	top, _, _ := strings.Cut(t.Name(), "/")
	return fmt.Sprintf("dockertest-%d-%s", os.Getpid(), top)
}

func jobName(t *testing.T) string {
	return fmt.Sprintf("dockertest-%d-%s", os.Getpid(), t.Name())
}

// programImage loads an image whose entrypoint is a testdata program.
func programImage(t testing.TB, r *docker.Runner, name string) string {
	t.Helper()
	bin := program(t, name)
	spec := image.Spec{
		Arch:       runtime.GOARCH,
		Files:      []image.File{{Path: "/" + name, Mode: 0o755, Source: bin}},
		Entrypoint: []string{"/" + name},
		User:       image.User,
	}
	ref, err := spec.Ref("tinyml-test-" + name)
	require.NoError(t, err)
	require.NoError(t, r.EnsureImage(context.Background(), ref, spec.Build))
	return ref
}

func TestDockerRunnerConforms(t *testing.T) {
	r := newRunner(t)
	img := programImage(t, r, "behave")
	runnertest.Run(t, r, func(t *testing.T, behaviour, volume string) runner.Job {
		return runner.Job{
			Name: jobName(t), Image: img, Volume: volume,
			Env: map[string]string{runnertest.BehaviourEnv: behaviour},
		}
	}, runnertest.Options{EnforcesMemory: true})
}

func TestContainersAreLockedDown(t *testing.T) {
	r := newRunner(t)
	img := programImage(t, r, "probe")
	vol := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(vol, "compile"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(vol, "compile", "spec.json"), []byte(`{}`), 0o644))
	var out strings.Builder
	res, err := r.Run(context.Background(), runner.Job{
		Name: jobName(t), Image: img, Volume: vol, Stdout: &out,
		// `step compile` makes compile/ the job's only writable directory in the volume.
		Command: []string{"step", "compile"},
		Limits:  runner.Limits{CPUs: 0.5, MemoryBytes: 64 << 20},
	})
	require.NoError(t, err, out.String())
	require.Equal(t, 0, res.ExitCode, out.String())
	got := out.String()
	if os.Geteuid() == 0 {
		require.Contains(t, got, "uid=65534 gid=65534")
	}
	require.Contains(t, got, "CapEff: 0000000000000000")
	require.Contains(t, got, "NoNewPrivs: 1")
	require.Contains(t, got, "interfaces=lo\n", "network none: only loopback")
	require.Contains(t, got, "write /: false", "read-only root filesystem")
	require.Contains(t, got, "write /tmp: true")
	require.Contains(t, got, "write /tinyml/run/compile: true")
	if os.Geteuid() == 0 {
		require.Contains(t, got, "write /tinyml/run: false", "only the step's directory is the job's")
		// What the job wrote is the volume owner's again, and so is its directory.
		for _, p := range []string{filepath.Join(vol, "compile"), filepath.Join(vol, "compile", "probe-write")} {
			st, err := os.Stat(p)
			require.NoError(t, err)
			require.EqualValues(t, os.Getuid(), st.Sys().(*syscall.Stat_t).Uid, p)
		}
	}
}

func TestAMissingImageIsErrNoImageAndNothingIsPulled(t *testing.T) {
	r := newRunner(t)
	_, err := r.Run(context.Background(), runner.Job{Name: jobName(t), Image: "tinyml-no-such-image:never", Volume: t.TempDir()})
	require.ErrorIs(t, err, runner.ErrNoImage)
	require.ErrorContains(t, err, "never pulls")
	require.ErrorContains(t, err, "tinyml-no-such-image:never")
}

func TestAnUnreachableEngineSaysHowToStartOne(t *testing.T) {
	r, err := docker.New(docker.WithHost("unix://" + filepath.Join(t.TempDir(), "no.sock")))
	require.NoError(t, err)
	_, err = r.Run(context.Background(), runner.Job{Name: "x", Image: "tinyml-worker:x", Volume: t.TempDir()})
	require.ErrorIs(t, err, runner.ErrUnavailable)
	require.ErrorContains(t, err, "dockerd --iptables=false --bridge=none --storage-driver=vfs")
	require.ErrorIs(t, r.Ping(context.Background()), runner.ErrUnavailable)
}

func TestAContainerKilledFromOutsideFailsTheJob(t *testing.T) {
	r := newRunner(t)
	img := programImage(t, r, "behave")
	name := jobName(t)
	go func() {
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			ids, _ := r.Containers(context.Background(), name)
			if len(ids) == 1 {
				info, err := r.Client().ContainerInspect(context.Background(), ids[0], client.ContainerInspectOptions{})
				if err == nil && info.Container.State != nil && info.Container.State.Running {
					r.Client().ContainerKill(context.Background(), ids[0], client.ContainerKillOptions{Signal: "KILL"})
					return
				}
			}
		}
	}()
	start := time.Now()
	_, err := r.Run(context.Background(), runner.Job{
		Name: name, Image: img, Volume: t.TempDir(), Env: map[string]string{runnertest.BehaviourEnv: runnertest.Sleep},
	})
	require.ErrorIs(t, err, docker.ErrKilled)
	require.ErrorContains(t, err, "stopped from outside")
	require.Less(t, time.Since(start), 30*time.Second)
}

func TestAnUnwritableVolumeFailsTheJobWithItsCause(t *testing.T) {
	r := newRunner(t, docker.WithUser("12345:12345")) // a user the volume does not belong to
	img := programImage(t, r, "behave")
	vol := t.TempDir()
	require.NoError(t, os.Chmod(vol, 0o755))
	var errOut strings.Builder
	res, err := r.Run(context.Background(), runner.Job{
		Name: jobName(t), Image: img, Volume: vol, Stderr: &errOut,
		Env: map[string]string{runnertest.BehaviourEnv: runnertest.Write},
	})
	require.NoError(t, err)
	require.Equal(t, 1, res.ExitCode)
	require.Contains(t, errOut.String(), "permission denied")

	_, err = r.Run(context.Background(), runner.Job{Name: jobName(t), Image: img, Volume: filepath.Join(vol, "missing")})
	require.ErrorContains(t, err, "is not a directory")
}

func TestPeakMemoryIsMeasured(t *testing.T) {
	r := newRunner(t)
	img := programImage(t, r, "behave")
	res, err := r.Run(context.Background(), runner.Job{
		Name: jobName(t), Image: img, Volume: t.TempDir(),
		Env:    map[string]string{runnertest.BehaviourEnv: runnertest.Sleep},
		Limits: runner.Limits{Timeout: 2500 * time.Millisecond},
	})
	require.ErrorIs(t, err, runner.ErrTimeout)
	require.Positive(t, res.PeakMemoryBytes, "sampled while the job ran")
}

func TestImagesAreLoadedOnceByContent(t *testing.T) {
	r := newRunner(t)
	bin := program(t, "behave")
	spec := image.Spec{Arch: runtime.GOARCH, Files: []image.File{{Path: "/x/behave", Mode: 0o755, Source: bin}, {Path: "/x/note", Data: []byte(t.Name() + time.Now().String())}},
		Entrypoint: []string{"/x/behave"}}
	ref, err := spec.Ref("tinyml-test-once")
	require.NoError(t, err)
	t.Cleanup(func() { r.Client().ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
	builds := 0
	build := func() (v1.Image, error) { builds++; return spec.Build() }
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { require.NoError(t, r.EnsureImage(context.Background(), ref, build)) })
	}
	wg.Wait()
	require.NoError(t, r.EnsureImage(context.Background(), ref, build))
	require.Equal(t, 1, builds)
	var out strings.Builder
	res, err := r.Run(context.Background(), runner.Job{Name: jobName(t), Image: ref, Volume: t.TempDir(), Stdout: &out,
		Env: map[string]string{runnertest.BehaviourEnv: runnertest.Env, "RUNNERTEST_VALUE": "7"}})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	require.Contains(t, out.String(), "value=7 volume=/tinyml/run")
}

func benchRunner(b *testing.B, opts ...docker.Option) *docker.Runner {
	testenv.Docker(b)
	r, err := docker.New(opts...)
	require.NoError(b, err)
	b.Cleanup(func() { r.Close() })
	return r
}

func benchImage(b *testing.B, r *docker.Runner) string {
	bin := program(b, "behave")
	spec := image.Spec{Arch: runtime.GOARCH, Files: []image.File{{Path: "/behave", Mode: 0o755, Source: bin}}, Entrypoint: []string{"/behave"}, User: image.User}
	ref, err := spec.Ref("tinyml-test-behave")
	require.NoError(b, err)
	require.NoError(b, r.EnsureImage(context.Background(), ref, spec.Build))
	return ref
}

func TestPruneRemovesOnlyLongExitedContainers(t *testing.T) {
	r := newRunner(t)
	img := programImage(t, r, "behave")
	ctx := context.Background()
	// A container left by a studio that died: created and run outside Run, never removed.
	name := jobName(t)
	created, err := r.Client().ContainerCreate(ctx, client.ContainerCreateOptions{Image: img, Config: &container.Config{
		Env: []string{runnertest.BehaviourEnv + "=env"}, Labels: map[string]string{docker.LabelJob: name}}})
	require.NoError(t, err)
	t.Cleanup(func() { r.Client().ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true}) })
	_, err = r.Client().ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	require.NoError(t, err)
	w := r.Client().ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
	case err := <-w.Error:
		t.Fatal(err)
	}
	_, err = r.Prune(ctx, time.Minute)
	require.NoError(t, err)
	ids, err := r.Containers(ctx, name)
	require.NoError(t, err)
	require.Len(t, ids, 1, "just exited: its runner may still be inspecting it")
	time.Sleep(1200 * time.Millisecond) // a live runner removes its containers within milliseconds
	n, err := r.Prune(ctx, time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	ids, err = r.Containers(ctx, name)
	require.NoError(t, err)
	require.Empty(t, ids)
}

// A container whose studio process died is removed even while it runs; one whose owner lives
// (this process) is left alone.
func TestRemoveOrphansStopsTheJobsOfADeadStudio(t *testing.T) {
	r := newRunner(t)
	img := programImage(t, r, "behave")
	ctx := context.Background()
	host, _ := os.Hostname()
	start := func(name, owner string) string {
		created, err := r.Client().ContainerCreate(ctx, client.ContainerCreateOptions{Image: img, Config: &container.Config{
			Env:    []string{runnertest.BehaviourEnv + "=" + runnertest.Sleep},
			Labels: map[string]string{docker.LabelJob: name, docker.LabelOwner: owner}}})
		require.NoError(t, err)
		t.Cleanup(func() { r.Client().ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true}) })
		_, err = r.Client().ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
		require.NoError(t, err)
		return created.ID
	}
	dead := jobName(t) + "-dead"
	live := jobName(t) + "-live"
	start(dead, fmt.Sprintf("%s:%d:1", host, 1<<22)) // a pid above Linux's maximum: never alive
	start(live, fmt.Sprintf("%s:%d", host, os.Getpid()))
	n, err := r.RemoveOrphans(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	ids, err := r.Containers(ctx, dead)
	require.NoError(t, err)
	require.Empty(t, ids)
	ids, err = r.Containers(ctx, live)
	require.NoError(t, err)
	require.Len(t, ids, 1)
}

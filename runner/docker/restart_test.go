package docker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/docker"
	"github.com/tinymlaas/tinyml/runner/runnertest"
)

// privateEngine starts a Docker engine of the test's own (its own socket, data and state
// directories), so that it can be restarted without disturbing anyone else's containers.
type privateEngine struct {
	t    *testing.T
	dir  string
	proc *os.Process
}

func startPrivateEngine(t *testing.T) *privateEngine {
	t.Helper()
	testenv.Docker(t) // the shared engine works, so dockerd is installed and can run here
	if os.Geteuid() != 0 {
		t.Skip("a private dockerd needs root")
	}
	dir, err := os.MkdirTemp("", "dkr") // short: the socket path must fit in 108 bytes
	require.NoError(t, err)
	e := &privateEngine{t: t, dir: dir}
	e.start()
	t.Cleanup(func() {
		e.stop()
		os.RemoveAll(dir)
	})
	return e
}

func (e *privateEngine) host() string { return "unix://" + filepath.Join(e.dir, "d.sock") }

func (e *privateEngine) start() {
	e.t.Helper()
	logf, err := os.OpenFile(filepath.Join(e.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(e.t, err)
	defer logf.Close()
	cmd := exec.Command("dockerd", "--host", e.host(), "--data-root", filepath.Join(e.dir, "data"), "--exec-root", filepath.Join(e.dir, "exec"),
		"--pidfile", filepath.Join(e.dir, "d.pid"), "--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver=vfs")
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(e.t, cmd.Start())
	e.proc = cmd.Process
	go cmd.Wait()
	r, err := docker.New(docker.WithHost(e.host()))
	require.NoError(e.t, err)
	defer r.Close()
	deadline := time.Now().Add(60 * time.Second)
	for r.Ping(context.Background()) != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(e.dir, "dockerd.log"))
			e.t.Fatalf("private dockerd did not start: %s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *privateEngine) stop() {
	if e.proc == nil {
		return
	}
	e.proc.Signal(syscall.SIGTERM)
	for range 300 {
		if e.proc.Signal(syscall.Signal(0)) != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.proc.Kill()
	e.proc = nil
}

func TestAJobSurvivesAnEngineRestartAsAFailureAndLeavesNoContainer(t *testing.T) {
	e := startPrivateEngine(t)
	r, err := docker.New(docker.WithHost(e.host()))
	require.NoError(t, err)
	defer r.Close()
	img := programImage(t, r, "behave")
	name := jobName(t)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background(), runner.Job{Name: name, Image: img, Volume: t.TempDir(),
			Env: map[string]string{runnertest.BehaviourEnv: runnertest.Sleep}})
		errc <- err
	}()
	require.Eventually(t, func() bool {
		ids, _ := r.Containers(context.Background(), name)
		return len(ids) == 1
	}, 30*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // running
	e.stop()
	e.start()
	select {
	case err = <-errc:
	case <-time.After(90 * time.Second):
		t.Fatal("the job did not end after the engine restarted")
	}
	require.Error(t, err)
	msg := err.Error()
	require.True(t, strings.Contains(msg, "stopped answering") || strings.Contains(msg, "stopped from outside"), msg)
	ids, err := r.Containers(context.Background(), name)
	require.NoError(t, err)
	require.Empty(t, ids, "the runner removed its container once the engine was back")
}

package device_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/runnertest"
)

// TestMain lets the test binary double as the job program the board runs (the board is this
// machine, reached over SSH).
func TestMain(m *testing.M) {
	if os.Getenv(runnertest.BehaviourEnv) != "" {
		os.Exit(runnertest.Behave())
	}
	os.Exit(m.Run())
}

func board(t *testing.T, srv testenv.SSHServer) device.Profile {
	return device.Profile{Name: "board", Kind: device.SSH, Host: srv.Host, Port: srv.Port, User: srv.User, KeyPath: srv.KeyPath}
}

func TestSSHRunnerConforms(t *testing.T) {
	srv := testenv.SSHD(t)
	self, err := os.Executable()
	require.NoError(t, err)
	in := &device.SSHInstaller{TOFUFile: filepath.Join(t.TempDir(), "known_hosts")}
	remote := t.TempDir() // the board's side of the volumes
	r := &device.SSHRunner{Profile: board(t, srv), Installer: in, RemoteVolume: func(local string) string {
		return filepath.Join(remote, strings.ReplaceAll(local, "/", "_"))
	}}
	marker := fmt.Sprintf("ssh-conformance-%d", os.Getpid()) // an argument the job ignores, to find it by
	runnertest.Run(t, r, func(t *testing.T, behaviour, volume string) runner.Job {
		return runner.Job{Name: t.Name(), Image: self, Command: []string{marker}, Volume: volume,
			Env: map[string]string{runnertest.BehaviourEnv: behaviour}}
	}, runnertest.Options{})
	// Nothing is left running on the board after timeouts and cancels.
	out, _ := exec.Command("pgrep", "-f", marker).Output()
	require.Empty(t, strings.TrimSpace(string(out)))
}

func TestSSHVolumeSyncCopiesOnlyChangesBothWays(t *testing.T) {
	srv := testenv.SSHD(t)
	self, err := os.Executable()
	require.NoError(t, err)
	in := &device.SSHInstaller{TOFUFile: filepath.Join(t.TempDir(), "known_hosts")}
	remote := filepath.Join(t.TempDir(), "vol")
	r := &device.SSHRunner{Profile: board(t, srv), Installer: in, RemoteVolume: func(string) string { return remote }}
	vol := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(vol, "data"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(vol, "logs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(vol, "data", "x.csv"), []byte("1,2\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(vol, "logs", "compile.log"), []byte("log"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(vol, "stale"), []byte("old"), 0o644))
	job := runner.Job{Name: "sync", Image: self, Volume: vol, Env: map[string]string{runnertest.BehaviourEnv: runnertest.Write}}
	_, err = r.Run(context.Background(), job)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(remote, "data", "x.csv"))
	require.NoError(t, err)
	require.Equal(t, "1,2\n", string(b))
	require.NoFileExists(t, filepath.Join(remote, "logs", "compile.log"), "logs stay home")
	require.FileExists(t, filepath.Join(vol, "result.json"), "the job's output comes back")

	// A file removed locally is removed on the board before the next job.
	require.NoError(t, os.Remove(filepath.Join(vol, "stale")))
	_, err = r.Run(context.Background(), job)
	require.NoError(t, err)
	require.NoFileExists(t, filepath.Join(remote, "stale"))
}

func TestSSHHostKeysAreTrustedOnFirstUseThenPinned(t *testing.T) {
	srv := testenv.SSHD(t)
	ctx := context.Background()
	tofu := filepath.Join(t.TempDir(), "known_hosts")
	in := &device.SSHInstaller{TOFUFile: tofu, RemoteDir: relHome(t, t.TempDir()), Worker: func(context.Context, string) (string, error) { return os.Executable() }}
	p := board(t, srv)
	model := writeModel(t, 100)

	_, err := in.Install(ctx, p, model)
	require.NoError(t, err)
	b, err := os.ReadFile(tofu)
	require.NoError(t, err)
	require.Contains(t, string(b), fmt.Sprintf("[127.0.0.1]:%d %s", srv.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey)))))
	_, err = in.Install(ctx, p, model) // the recorded key matches
	require.NoError(t, err)

	// Another key on record for the same address: refused, naming the file and line.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewPublicKey(pub)
	require.NoError(t, os.WriteFile(tofu, []byte(knownhosts.Line([]string{knownhosts.Normalize(fmt.Sprintf("127.0.0.1:%d", srv.Port))}, other)+"\n"), 0o600))
	_, err = in.Install(ctx, p, model)
	require.ErrorContains(t, err, "not the one on record in "+tofu+":1")

	// A strict known_hosts file without the board: refused, saying how to add it.
	strict := &device.SSHInstaller{KnownHosts: filepath.Join(t.TempDir(), "empty"), RemoteDir: in.RemoteDir, Worker: in.Worker}
	require.NoError(t, os.WriteFile(strict.KnownHosts, nil, 0o600))
	_, err = strict.Install(ctx, p, model)
	require.ErrorContains(t, err, "ssh-keyscan")
}

func TestSSHInstallCopiesTheWorkerOnceAndTheModel(t *testing.T) {
	srv := testenv.SSHD(t)
	ctx := context.Background()
	home := t.TempDir()
	worker, err := os.Executable()
	require.NoError(t, err)
	in := &device.SSHInstaller{TOFUFile: filepath.Join(t.TempDir(), "known_hosts"), RemoteDir: relHome(t, home),
		Worker: func(context.Context, string) (string, error) { return worker, nil }}
	p := board(t, srv)
	a := writeModel(t, 1000)
	ref, err := in.Install(ctx, p, a)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ref, fmt.Sprintf("ssh://%s@127.0.0.1:%d/", srv.User, srv.Port)), ref)
	require.Equal(t, "compile/model.onnx", in.ModelPath(ref))
	rn, job := in.Inference(p, a.Volume, ref)
	require.Equal(t, "ssh", rn.Name())
	require.FileExists(t, job.Image, "the worker is on the board")
	installed := filepath.Join(home, "runs", filepath.Base(a.Volume), "compile", "model.onnx")
	require.FileExists(t, installed)

	p.StorageBytes = 512
	_, err = in.Install(ctx, p, a)
	require.ErrorIs(t, err, device.ErrTooBig)
	require.ErrorContains(t, err, "1000 B")
	require.ErrorContains(t, err, "512 B")

	p.StorageBytes, p.Arch = 0, "riscv64"
	_, err = in.Install(ctx, p, a)
	require.ErrorContains(t, err, "--arch")
}

// relHome makes dir relative to the login's home, where the installer's RemoteDir lives.
func relHome(t *testing.T, dir string) string {
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	rel, err := filepath.Rel(home, dir)
	require.NoError(t, err)
	return rel
}

func writeModel(t *testing.T, size int) device.Artifact {
	vol := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(vol, "compile"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(vol, "compile", "model.onnx"), make([]byte, size), 0o644))
	return device.Artifact{Volume: vol, Path: "compile/model.onnx", Bytes: int64(size)}
}

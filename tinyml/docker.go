package tinyml

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/internal/image"
	"github.com/tinymlaas/tinyml/runner/docker"
)

// WorkerBinaryEnv names a statically linked worker program for images and boards, when no
// WithWorkerBinary option gives one.
const WorkerBinaryEnv = "TINYML_WORKER_BINARY"

// deviceSetup is the studio's Docker and SSH set-up: the engine's runner (made on first use,
// so a studio that never touches Docker never needs an engine), the static worker binaries,
// and the host-key policy for boards.
type deviceSetup struct {
	dockerJobs bool // compile jobs run in containers
	dockerOpts []docker.Option
	workerBin  string
	knownHosts string

	workers *image.Workers
	runner  func() (*docker.Runner, error)
	made    atomic.Bool // runner was called
}

// WithDocker runs compile jobs in Docker containers (through the Engine API at $DOCKER_HOST or
// the local socket) instead of local processes: a run that names no toolchain compiles in the
// worker image, which the runner assembles from a static worker binary and loads itself (no
// registry is needed). The options configure the runner that compile jobs and docker devices
// share.
func WithDocker(opts ...docker.Option) Option {
	return func(s *Studio) error {
		s.devices.dockerJobs = true
		s.devices.dockerOpts = append(s.devices.dockerOpts, opts...)
		return nil
	}
}

// WithWorkerBinary sets the statically linked worker program that Docker images hold and SSH
// boards receive: a program that calls WorkerMain first thing in main (like the tinyml
// command built with CGO_ENABLED=0), or runner/docker/workerbin. Default: $TINYML_WORKER_BINARY,
// else the running program when it is static, else one built with the go tool (cached).
func WithWorkerBinary(path string) Option {
	return func(s *Studio) error { s.devices.workerBin = path; return nil }
}

// WithKnownHosts checks the host keys of SSH devices against an OpenSSH known_hosts file,
// strictly. Without it a board's key is trusted on first use and recorded in DIR/known_hosts;
// a different key later is refused.
func WithKnownHosts(file string) Option {
	return func(s *Studio) error { s.devices.knownHosts = file; return nil }
}

// setupDevices registers the docker and ssh installers (unless options gave others) and, with
// WithDocker, makes the Docker runner the compile runner.
func (s *Studio) setupDevices() error {
	d := &s.devices
	if d.workerBin == "" {
		d.workerBin = os.Getenv(WorkerBinaryEnv)
	}
	d.workers = &image.Workers{Path: d.workerBin, Log: s.log}
	opts := append([]docker.Option{docker.WithLogger(s.log)}, d.dockerOpts...)
	if d.workerBin != "" {
		opts = append(opts, docker.WithWorkerBinary(d.workerBin))
	}
	d.runner = sync.OnceValues(func() (*docker.Runner, error) {
		d.made.Store(true)
		return docker.New(opts...)
	})
	if _, ok := s.installers[device.Docker]; !ok {
		s.installers[device.Docker] = &device.DockerInstaller{Runner: d.runner}
	}
	if _, ok := s.installers[device.SSH]; !ok {
		s.installers[device.SSH] = &device.SSHInstaller{
			Worker: d.workers.Binary, KnownHosts: d.knownHosts, TOFUFile: filepath.Join(s.dir, "known_hosts"),
		}
	}
	if d.dockerJobs {
		r, err := d.runner()
		if err != nil {
			return err
		}
		s.runner = r
	}
	return nil
}

// removeOrphanContainers stops the containers of jobs whose studio process died, so that they
// do not go on writing into volumes whose steps were just marked interrupted. Without a reachable
// engine there is nothing to stop.
func (s *Studio) removeOrphanContainers(ctx context.Context) {
	r, err := s.devices.runner()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if n, err := r.RemoveOrphans(ctx); err == nil && n > 0 {
		s.log.Warn("removed containers of an interrupted studio", "containers", n)
	}
}

// DockerRunner returns the studio's Docker runner (the one WithDocker and docker devices use),
// creating it if needed; it does not contact the engine (its Ping does).
func (s *Studio) DockerRunner() (*docker.Runner, error) { return s.devices.runner() }

// workerBinary is a static worker for arch, for exports and boards.
func (s *Studio) workerBinary(ctx context.Context, arch string) (string, error) {
	return s.devices.workers.Binary(ctx, arch)
}

// close releases the Docker client's connections, if the studio made one.
func (d *deviceSetup) close() {
	if d.runner == nil || !d.made.Load() {
		return
	}
	if r, err := d.runner(); err == nil {
		r.Close()
	}
}

package tinyml

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/internal/store"
	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/local"
)

// ErrNotFound is matched by lookups of projects, runs and devices that do not exist.
var ErrNotFound = store.ErrNotFound

// ErrConflict is matched when a name is taken (projects, devices).
var ErrConflict = store.ErrConflict

// Status is a step's or run's state, in the seed service's words.
type Status string

// Statuses.
const (
	Pending   Status = store.StatusPending
	Running   Status = store.StatusRunning
	Generated Status = store.StatusGenerated // done
	Failed    Status = store.StatusFailed
	Canceled  Status = store.StatusCanceled
)

// Done reports whether the status is final.
func (s Status) Done() bool { return s == Generated || s == Failed || s == Canceled }

// StepName names a pipeline step.
type StepName string

// The pipeline's steps, in order.
const (
	StepModel     StepName = "model"
	StepDataset   StepName = "dataset"
	StepCompile   StepName = "compile"
	StepInstall   StepName = "install"
	StepInference StepName = "inference"
)

// PipelineSteps lists the steps every run goes through.
func PipelineSteps() []StepName {
	return []StepName{StepModel, StepDataset, StepCompile, StepInstall, StepInference}
}

// Studio is an open data directory: the store, the run volumes, and the machinery that executes
// runs. It is safe for concurrent use. Close it to stop running pipelines.
type Studio struct {
	dir        string
	store      *store.Store
	log        *slog.Logger
	runner     runner.Runner
	installers map[device.Kind]device.Installer
	workerCmd  []string
	workerEnv  map[string]string
	events     *broker
	devices    deviceSetup // Docker and SSH devices, container jobs, image export (docker.go)
	hub        hubSetup    // the Hugging Face Hub client for hf:// references (hub.go)

	sem    *semaphore.Weighted
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	active map[string]*activeRun
}

type activeRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Option configures Open.
type Option func(*Studio) error

// WithRunner sets the runner of compile jobs (default: local processes).
func WithRunner(r runner.Runner) Option {
	return func(s *Studio) error { s.runner = r; return nil }
}

// WithConcurrency bounds how many runs execute at once (default: the number of CPUs).
func WithConcurrency(n int) Option {
	return func(s *Studio) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d: it must be at least 1", n)
		}
		s.sem = semaphore.NewWeighted(int64(n))
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(s *Studio) error { s.log = l; return nil }
}

// WithInstaller sets the installer of a device kind.
func WithInstaller(kind device.Kind, in device.Installer) Option {
	return func(s *Studio) error { s.installers[kind] = in; return nil }
}

// WithWorkerCommand sets the program a local job runs to execute a step (default: this
// executable, which must call WorkerMain first thing in main).
func WithWorkerCommand(cmd ...string) Option {
	return func(s *Studio) error {
		if len(cmd) == 0 {
			return errors.New("worker command is empty")
		}
		s.workerCmd = cmd
		s.workerEnv = nil
		return nil
	}
}

// Open opens (creating if needed) a studio data directory: DIR/tinyml.db and DIR/runs/. Steps
// left running by a studio that stopped are marked failed as interrupted, so nothing stays
// running forever. A device named "local" (this host) is registered if absent.
func Open(ctx context.Context, dir string, opts ...Option) (*Studio, error) {
	// Jobs run in other working directories (a run's volume, a container): paths must not be
	// relative to ours.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open studio: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "runs"), 0o755); err != nil {
		return nil, fmt.Errorf("open studio: %w", err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "tinyml.db"))
	if err != nil {
		return nil, fmt.Errorf("open studio: %w", err)
	}
	s := &Studio{
		dir: dir, store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		runner:     local.New(),
		installers: map[device.Kind]device.Installer{device.Local: device.LocalInstaller{}},
		events:     newBroker(),
		sem:        semaphore.NewWeighted(int64(runtime.NumCPU())),
		active:     map[string]*activeRun{},
	}
	if exe, err := os.Executable(); err == nil {
		s.workerCmd, s.workerEnv = []string{exe}, map[string]string{workerEnvVar: "1"}
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			st.Close()
			return nil, fmt.Errorf("open studio: %w", err)
		}
	}
	if err := s.setupDevices(); err != nil {
		st.Close()
		return nil, fmt.Errorf("open studio: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.reconcile(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("open studio: %w", err)
	}
	if _, err := st.GetDevice(ctx, "local"); errors.Is(err, store.ErrNotFound) {
		if _, err := s.AddDevice(ctx, device.Profile{Name: "local", Kind: device.Local}); err != nil && !errors.Is(err, store.ErrConflict) {
			st.Close()
			return nil, fmt.Errorf("open studio: %w", err)
		}
	}
	return s, nil
}

// reconcile ends steps a previous process left running: their jobs died with it.
func (s *Studio) reconcile(ctx context.Context) error {
	steps, err := s.store.RunningSteps(ctx)
	if err != nil {
		return err
	}
	interrupted := false
	for _, st := range steps {
		if alive(st.Job) {
			continue // another live process is executing it
		}
		interrupted = true
		msg := fmt.Sprintf("interrupted: the studio stopped while this step was running (started %s); start the run again to retry it",
			st.Started.Format(time.RFC3339))
		if _, err := s.store.UpdateStep(ctx, st.RunID, st.Name, store.StepUpdate{Status: store.StatusFailed, Error: msg, Finished: time.Now()}); err != nil {
			return err
		}
		s.log.Warn("reconciled an interrupted step", "run", st.RunID, "step", st.Name)
	}
	if interrupted {
		s.removeOrphanContainers(ctx)
	}
	return nil
}

// Dir is the studio's data directory.
func (s *Studio) Dir() string { return s.dir }

// Close cancels running pipelines, waits for them to record their end, and closes the store.
func (s *Studio) Close() error {
	s.cancel()
	s.wg.Wait()
	s.events.close()
	s.devices.close()
	return s.store.Close()
}

// Project is a named set of runs.
type Project struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

func projectOf(p store.Project) Project { return Project{ID: p.ID, Name: p.Name, Created: p.Created} }

// CreateProject adds a project; names are unique (ErrConflict).
func (s *Studio) CreateProject(ctx context.Context, name string) (Project, error) {
	p, err := s.store.CreateProject(ctx, name)
	if err != nil {
		return Project{}, err
	}
	return projectOf(p), nil
}

// Project finds a project by ID or name.
func (s *Studio) Project(ctx context.Context, idOrName string) (Project, error) {
	p, err := s.store.GetProject(ctx, idOrName)
	if err != nil {
		return Project{}, err
	}
	return projectOf(p), nil
}

// Projects lists every project.
func (s *Studio) Projects(ctx context.Context) ([]Project, error) {
	ps, err := s.store.ListProjects(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Project, len(ps))
	for i, p := range ps {
		out[i] = projectOf(p)
	}
	return out, nil
}

// Device is a registered device.
type Device struct {
	ID string `json:"id"`
	device.Profile
	Created time.Time `json:"created"`
}

func deviceOf(d store.Device) Device {
	return Device{ID: d.ID, Created: d.Created, Profile: device.Profile{
		Name: d.Name, Kind: device.Kind(d.Kind), Arch: d.Arch, CPUs: d.CPUs, MemoryBytes: d.MemoryBytes,
		StorageBytes: d.StorageBytes, Host: d.Host, User: d.User, Port: d.Port, KeyPath: d.KeyPath,
	}}
}

// AddDevice registers a device; names are unique (ErrConflict).
func (s *Studio) AddDevice(ctx context.Context, p device.Profile) (Device, error) {
	if err := p.Validate(); err != nil {
		return Device{}, err
	}
	if _, ok := s.installers[p.Kind]; !ok {
		return Device{}, fmt.Errorf("device %s: no installer for kind %q in this studio (configure one with tinyml.WithInstaller)", p.Name, p.Kind)
	}
	d, err := s.store.AddDevice(ctx, store.Device{
		Name: p.Name, Kind: string(p.Kind), Arch: p.Arch, CPUs: p.CPUs, MemoryBytes: p.MemoryBytes,
		StorageBytes: p.StorageBytes, Host: p.Host, User: p.User, Port: p.Port, KeyPath: p.KeyPath,
	})
	if err != nil {
		return Device{}, err
	}
	return deviceOf(d), nil
}

// Device finds a device by name.
func (s *Studio) Device(ctx context.Context, name string) (Device, error) {
	d, err := s.store.GetDevice(ctx, name)
	if err != nil {
		return Device{}, err
	}
	return deviceOf(d), nil
}

// Devices lists registered devices.
func (s *Studio) Devices(ctx context.Context) ([]Device, error) {
	ds, err := s.store.ListDevices(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Device, len(ds))
	for i, d := range ds {
		out[i] = deviceOf(d)
	}
	return out, nil
}

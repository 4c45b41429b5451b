// Package docker runs jobs in containers through the Docker Engine API.
//
// Each job gets its own container, created from Job.Image (never pulled: the engine must have
// it, and "No such image" is runner.ErrNoImage), with the run volume bind-mounted at
// runner.VolumePath, no network unless Job.Network, a read-only root filesystem with a small
// tmpfs at /tmp, every capability dropped, no-new-privileges, an unprivileged user (65534:65534),
// the engine's init as PID 1, a pids limit and the job's CPU and memory limits (no swap). Its
// output is streamed into Job.Stdout/Stderr; the container is removed when the job ends — also
// on cancel, timeout and failure, and, when the engine restarts under it, as soon as the engine
// is back. Containers carry the labels tinyml.job=<job name>, tinyml.runner=docker and
// tinyml.owner=<host>:<pid>; Prune removes what a killed process left.
//
// The engine needs no registry: the runner assembles its own worker image from a statically
// linked worker binary (see DefaultImage and internal/image) and loads it through the API.
//
// The client is github.com/moby/moby/client, the maintained successor of
// github.com/docker/docker/client; it negotiates the API version, so Docker 20.10 (API 1.41)
// engines and newer work.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/tinymlaas/tinyml/internal/image"
	"github.com/tinymlaas/tinyml/internal/proc"
	"github.com/tinymlaas/tinyml/runner"
)

// Labels the runner puts on its containers.
const (
	LabelJob    = "tinyml.job"    // the job's name
	LabelRunner = "tinyml.runner" // "docker"
	LabelOwner  = "tinyml.owner"  // HOSTNAME:PID of the process that ran the job
)

// DefaultPIDs bounds a job's processes when its limits name none.
const DefaultPIDs = 256

// ErrKilled is matched by a job whose container was killed by something other than the runner
// (docker kill, a daemon shutting down).
var ErrKilled = errors.New("container killed")

// Runner runs jobs in Docker containers. It is safe for concurrent use.
type Runner struct {
	cli     *client.Client
	workers *image.Workers
	log     *slog.Logger
	user    string
	peak    bool
	init    bool

	mu      sync.Mutex
	loading map[string]*loadCall
	arch    string
}

// Option configures New.
type Option func(*Runner) error

// WithHost sets the engine's address (e.g. unix:///var/run/docker.sock, tcp://host:2375);
// default $DOCKER_HOST, else the local socket.
func WithHost(host string) Option {
	return func(r *Runner) error {
		c, err := client.New(client.FromEnv, client.WithHost(host))
		if err != nil {
			return fmt.Errorf("docker host %q: %w", host, err)
		}
		r.cli = c
		return nil
	}
}

// WithClient uses an existing Engine API client.
func WithClient(c *client.Client) Option {
	return func(r *Runner) error { r.cli = c; return nil }
}

// WithWorkerBinary sets the statically linked worker program the runner's images hold (a
// program that calls tinyml.WorkerMain, or runner/docker/workerbin). By default the running
// program is used when it is static, else one is built with the go tool (see internal/image).
func WithWorkerBinary(path string) Option {
	return func(r *Runner) error { r.workers.Path = path; return nil }
}

// WithCacheDir sets where built worker binaries are kept (default ~/.cache/tinyml).
func WithCacheDir(dir string) Option {
	return func(r *Runner) error { r.workers.CacheDir = dir; return nil }
}

// WithUser runs containers as this user ("uid:gid") and leaves the volume's ownership alone;
// the user must be able to write the volume. By default containers run as 65534:65534 and
// the runner, when it is root, lends them the job's output directory (see Run).
func WithUser(user string) Option {
	return func(r *Runner) error { r.user = user; return nil }
}

// WithPeakMemory turns the sampling of the container's peak memory on or off (default on).
func WithPeakMemory(on bool) Option {
	return func(r *Runner) error { r.peak = on; return nil }
}

// WithInit runs the engine's init (docker-init) as the container's PID 1, in front of the job
// (default on; turn it off for an engine without one).
func WithInit(on bool) Option {
	return func(r *Runner) error { r.init = on; return nil }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(r *Runner) error { r.log = l; r.workers.Log = l; return nil }
}

// New returns a runner talking to the engine at $DOCKER_HOST (or the local socket). It does not
// contact the engine: Ping does, and so does every job.
func New(opts ...Option) (*Runner, error) {
	r := &Runner{workers: &image.Workers{}, log: slog.New(slog.DiscardHandler), peak: true, init: true, loading: map[string]*loadCall{}}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, fmt.Errorf("docker runner: %w", err)
		}
	}
	if r.cli == nil {
		c, err := client.New(client.FromEnv)
		if err != nil {
			return nil, fmt.Errorf("docker runner: %w", err)
		}
		r.cli = c
	}
	return r, nil
}

// Name is "docker".
func (*Runner) Name() string { return "docker" }

// Client is the runner's Engine API client.
func (r *Runner) Client() *client.Client { return r.cli }

// Close releases the client's connections.
func (r *Runner) Close() error { return r.cli.Close() }

// Ping checks that the engine answers; runner.ErrUnavailable says how to start one.
func (r *Runner) Ping(ctx context.Context) error {
	if _, err := r.cli.Ping(ctx, client.PingOptions{}); err != nil {
		return r.unavailable(err)
	}
	return nil
}

func (r *Runner) unavailable(err error) error {
	return fmt.Errorf("%w: cannot reach the Docker engine at %s (%v); start one with `dockerd --iptables=false --bridge=none --storage-driver=vfs &` "+
		"or `systemctl start docker`, or point $DOCKER_HOST at one", runner.ErrUnavailable, r.cli.DaemonHost(), err)
}

// classify turns Engine API errors into the runner's errors.
func (r *Runner) classify(job string, err error) error {
	switch {
	case client.IsErrConnectionFailed(err):
		return fmt.Errorf("job %s: %w", job, r.unavailable(err))
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("job %s: %w", job, err)
	}
	return fmt.Errorf("job %s: %w", job, err)
}

// Run executes the job in a new container and removes the container when it ends.
//
// The container runs as 65534:65534. When the runner is root it gives the job's output
// directory to that user for the job and takes it back afterwards (with whatever the job wrote
// in it): for a studio step job (arguments `step NAME`) that is $TINYML_VOLUME/NAME, otherwise
// the volume's top directory. Everything else in the volume stays readable but not writable.
// When the runner is not root, the container runs as the runner's own uid:gid instead.
func (r *Runner) Run(ctx context.Context, job runner.Job) (runner.Result, error) {
	if job.Image == "" {
		return runner.Result{}, fmt.Errorf("job %s: the docker runner needs an image (Job.Image); the studio uses the runner's DefaultImage", job.Name)
	}
	vol, err := filepath.Abs(job.Volume)
	if err != nil {
		return runner.Result{}, fmt.Errorf("job %s: volume: %w", job.Name, err)
	}
	if st, err := os.Stat(vol); err != nil || !st.IsDir() {
		return runner.Result{}, fmt.Errorf("job %s: the volume %s is not a directory on this host: %v", job.Name, vol, err)
	}
	if job.Limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.Limits.Timeout)
		defer cancel()
	}
	stdout, stderr := orDiscard(job.Stdout), orDiscard(job.Stderr)

	user, restore, err := r.lendVolume(vol, job.Command)
	if err != nil {
		return runner.Result{}, fmt.Errorf("job %s: make the volume writable for the container: %w", job.Name, err)
	}
	defer restore()

	name := containerName(job.Name)
	start := time.Now()
	created, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     r.config(job, user),
		HostConfig: r.hostConfig(job, vol),
	})
	if err != nil {
		if ctx.Err() != nil { // the daemon may have created it before the request was cut
			r.remove(name)
			return runner.Result{}, r.stopped(job, ctx)
		}
		if cerrdefs.IsNotFound(err) {
			return runner.Result{}, fmt.Errorf("job %s: %w: %q is not in the Docker engine, and the runner never pulls; load it first (docker load -i FILE, or tinyml export … then docker load): %v",
				job.Name, runner.ErrNoImage, job.Image, err)
		}
		return runner.Result{}, r.classify(job.Name, err)
	}
	id := created.ID
	res := runner.Result{Handle: id}
	tr := phases{start: start}
	tr.mark("create")
	defer func() {
		r.remove(id)
		tr.mark("remove")
		r.log.Debug("docker job", "job", job.Name, "container", id[:12], "phases", tr.String())
	}()

	// Attach before starting, so no output is lost.
	att, err := r.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		if ctx.Err() != nil {
			return res, r.stopped(job, ctx)
		}
		return res, r.classify(job.Name, err)
	}
	defer att.Close()
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		stdcopy.StdCopy(stdout, stderr, att.Reader)
	}()

	if _, err := r.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if ctx.Err() != nil {
			return res, r.stopped(job, ctx)
		}
		return res, fmt.Errorf("job %s: start the container: %w", job.Name, r.classify(job.Name, err))
	}
	tr.mark("start")
	var peak peakMemory
	if r.peak {
		statsCtx, stopStats := context.WithCancel(context.WithoutCancel(ctx))
		defer stopStats()
		go peak.sample(statsCtx, r.cli, id)
		if info, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && info.Container.State != nil {
			go peak.sampleCgroup(statsCtx, info.Container.State.Pid, id)
		}
	}

	wait := r.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var exit container.WaitResponse
	select {
	case exit = <-wait.Result:
	case err = <-wait.Error:
	}
	res.Duration = time.Since(start)
	tr.mark("wait")
	res.PeakMemoryBytes = peak.max()
	if err != nil {
		if ctx.Err() != nil {
			r.kill(id)
			return res, r.stopped(job, ctx)
		}
		if perr := r.Ping(context.WithoutCancel(ctx)); perr != nil {
			return res, fmt.Errorf("job %s: the Docker engine stopped answering while the job ran (%v): %w", job.Name, err, perr)
		}
		return res, fmt.Errorf("job %s: wait for the container: %w", job.Name, err)
	}
	res.ExitCode = int(exit.StatusCode)
	select {
	case <-logsDone:
	case <-time.After(5 * time.Second):
		att.Close()
		<-logsDone
	}
	info, err := r.cli.ContainerInspect(context.WithoutCancel(ctx), id, client.ContainerInspectOptions{})
	if err != nil {
		return res, r.classify(job.Name, err)
	}
	tr.mark("inspect")
	res.PeakMemoryBytes = max(res.PeakMemoryBytes, peak.max())
	st := info.Container.State
	switch {
	case st != nil && st.OOMKilled:
		return res, fmt.Errorf("job %s: %w", job.Name, &runner.OOMError{Limit: job.Limits.MemoryBytes})
	case exit.Error != nil && exit.Error.Message != "":
		return res, fmt.Errorf("job %s: %s", job.Name, exit.Error.Message)
	case res.ExitCode == 128+9 || res.ExitCode == 128+15:
		return res, fmt.Errorf("job %s: %w: the container was stopped from outside the studio (exit code %d, signal %d); start the step again",
			job.Name, ErrKilled, res.ExitCode, res.ExitCode-128)
	}
	return res, nil
}

// stopped reports why ctx ended the job.
func (r *Runner) stopped(job runner.Job, ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && job.Limits.Timeout > 0 {
		return fmt.Errorf("job %s: %w after %s", job.Name, runner.ErrTimeout, job.Limits.Timeout)
	}
	return fmt.Errorf("job %s: %w", job.Name, ctx.Err())
}

func (r *Runner) config(job runner.Job, user string) *container.Config {
	env := []string{runner.VolumeEnv + "=" + runner.VolumePath}
	if c := job.Limits.CPUs; c > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(int(math.Max(1, math.Ceil(c)))))
	}
	if m := job.Limits.MemoryBytes; m > 0 {
		env = append(env, "GOMEMLIMIT="+strconv.FormatInt(m/10*9, 10))
	}
	keys := make([]string, 0, len(job.Env))
	for k := range job.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+job.Env[k])
	}
	return &container.Config{
		Image:        job.Image,
		Cmd:          job.Command,
		Env:          env,
		User:         user,
		WorkingDir:   runner.VolumePath,
		AttachStdout: true,
		AttachStderr: true,
		Labels:       map[string]string{LabelJob: job.Name, LabelRunner: "docker", LabelOwner: owner()},
	}
}

func (r *Runner) hostConfig(job runner.Job, vol string) *container.HostConfig {
	pids := job.Limits.PIDs
	if pids <= 0 {
		pids = DefaultPIDs
	}
	hc := &container.HostConfig{
		Mounts:         []mount.Mount{{Type: mount.TypeBind, Source: vol, Target: runner.VolumePath}},
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Tmpfs:          map[string]string{"/tmp": "rw,nosuid,nodev,size=16m"},
		LogConfig:      container.LogConfig{Type: "none"},
		// A tiny init (docker-init) as PID 1: the job then dies of the signals sent to it
		// (PID 1 ignores those it does not handle), so a stop from outside reads as one.
		Init: &r.init,
		Resources: container.Resources{
			PidsLimit: &pids,
		},
	}
	if job.Network {
		hc.NetworkMode = "default"
	}
	if m := job.Limits.MemoryBytes; m > 0 {
		hc.Memory, hc.MemorySwap = m, m // no swap: the limit is the device's memory
	}
	if c := job.Limits.CPUs; c > 0 {
		hc.NanoCPUs = int64(c * 1e9)
	}
	return hc
}

// kill stops a container the runner gave up on (its removal follows).
func (r *Runner) kill(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		r.log.Debug("kill container", "id", id, "err", err)
	}
}

// remove force-removes a container, retrying for a while when the engine is unreachable (it
// may be restarting).
func (r *Runner) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		_, err := r.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err == nil || cerrdefs.IsNotFound(err) {
			return
		}
		if ctx.Err() != nil {
			r.log.Error("container left behind: remove it with docker rm -f", "container", id, "err", err)
			return
		}
		r.log.Debug("remove container (retrying)", "container", id, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// Containers lists the IDs of containers the runner made for a job name (all names when ""),
// running or not: tests use it to assert that nothing was left behind.
func (r *Runner) Containers(ctx context.Context, jobName string) ([]string, error) {
	f := client.Filters{}
	if jobName == "" {
		f.Add("label", LabelJob)
	} else {
		f.Add("label", LabelJob+"="+jobName)
	}
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, r.classify("list", err)
	}
	ids := make([]string, 0, len(list.Items))
	for _, c := range list.Items {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// Prune removes the runner's containers that exited (or died) more than olderThan ago (a
// minute is safe): what a studio process killed in the middle of a job leaves behind. Running
// containers are left alone; so are containers that have just exited, which their runner may
// still be inspecting.
func (r *Runner) Prune(ctx context.Context, olderThan time.Duration) (removed int, err error) {
	f := client.Filters{}
	f.Add("label", LabelJob)
	f.Add("status", "exited", "dead")
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, r.classify("prune", err)
	}
	for _, c := range list.Items {
		info, err := r.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil || info.Container.State == nil {
			continue
		}
		finished, err := time.Parse(time.RFC3339Nano, info.Container.State.FinishedAt)
		if err != nil || time.Since(finished) < olderThan {
			continue
		}
		if _, err := r.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err == nil {
			removed++
		}
	}
	return removed, nil
}

var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// containerName is unique per job execution: the job's name made safe, and a random suffix.
func containerName(job string) string {
	var b [4]byte
	rand.Read(b[:])
	n := strings.Trim(nameUnsafe.ReplaceAllString(job, "_"), "_.-")
	if len(n) > 80 {
		n = n[:80]
	}
	if n == "" {
		n = "job"
	}
	return "tinyml-" + n + "-" + hex.EncodeToString(b[:])
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// peakMemory samples the container's memory use: from the engine's stats stream (about once a
// second; on cgroup v1 the kernel's own high-water mark comes with every sample) and, when the
// engine is on this host, from the container's cgroup directly.
type peakMemory struct {
	mu   sync.Mutex
	peak uint64
}

func (p *peakMemory) sample(ctx context.Context, cli *client.Client, id string) {
	st, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: true})
	if err != nil {
		return
	}
	defer st.Body.Close()
	dec := json.NewDecoder(st.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			return
		}
		p.mu.Lock()
		p.peak = max(p.peak, s.MemoryStats.MaxUsage, s.MemoryStats.Usage)
		p.mu.Unlock()
	}
}

func (p *peakMemory) max() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(p.peak)
}

// phases times the steps of a job for the debug log.
type phases struct {
	start time.Time
	last  time.Time
	parts []string
}

func (p *phases) mark(name string) {
	now := time.Now()
	if p.last.IsZero() {
		p.last = p.start
	}
	p.parts = append(p.parts, fmt.Sprintf("%s=%s", name, now.Sub(p.last).Round(time.Millisecond)))
	p.last = now
}

func (p *phases) String() string { return strings.Join(p.parts, " ") }

// owner labels a container with the process running its job: host, pid and the process's start
// time (so that a reused pid is not mistaken for the owner).
func owner() string {
	h, _ := os.Hostname()
	pid := os.Getpid()
	return h + ":" + strconv.Itoa(pid) + ":" + strconv.FormatInt(proc.Start(pid), 10)
}

// ownerAlive reports whether the process named by an owner label is still running on this host.
// Labels of other hosts count as alive: this runner cannot tell.
func ownerAlive(label string) bool {
	parts := strings.Split(label, ":")
	h, _ := os.Hostname()
	if len(parts) < 2 || parts[0] != h {
		return true
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return true
	}
	var start int64
	if len(parts) > 2 {
		start, _ = strconv.ParseInt(parts[2], 10, 64)
	}
	return proc.Same(pid, start)
}

// RemoveOrphans stops and removes running containers whose owning process on this host has
// died (a studio killed in the middle of a job): their steps are being marked interrupted, and
// a job nobody waits for must not go on writing into a run's volume.
func (r *Runner) RemoveOrphans(ctx context.Context) (removed int, err error) {
	f := client.Filters{}
	f.Add("label", LabelJob)
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, r.classify("remove orphans", err)
	}
	for _, c := range list.Items {
		if ownerAlive(c.Labels[LabelOwner]) {
			continue
		}
		if _, err := r.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err == nil {
			removed++
		}
	}
	return removed, nil
}

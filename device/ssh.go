package device

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tinymlaas/tinyml/runner"
)

// SSHInstaller installs on a Linux board reached over SSH (public-key login). Install copies a
// statically linked worker for the board's architecture to ~/.tinyml/bin/ (once per worker
// version) and the compiled model into the run's directory on the board,
// ~/.tinyml/runs/<run>/, at the same path it has in the run volume. Inference runs the worker
// there through an SSHRunner.
//
// The board needs a POSIX shell and sh, cat, mkdir, mv, chmod, rm, tar, find, cksum, kill and
// uname (coreutils or BusyBox); nothing is installed system-wide and no SFTP subsystem is used.
//
// Host keys: with KnownHosts set, the board's key must be in that OpenSSH known_hosts file
// (strict). Otherwise the key is trusted on first use and recorded in TOFUFile; a later
// mismatch is refused.
type SSHInstaller struct {
	// Worker returns a static worker binary for a GOARCH (see internal/image.Workers).
	Worker func(ctx context.Context, arch string) (string, error)
	// KnownHosts is a known_hosts file to check host keys against, strictly.
	KnownHosts string
	// TOFUFile is where keys first seen are recorded when KnownHosts is empty.
	TOFUFile string
	// RemoteDir is the studio's directory on boards, relative to the login's home (".tinyml").
	RemoteDir string
	// DialTimeout bounds connecting and the SSH handshake (10 s).
	DialTimeout time.Duration

	tofuMu sync.Mutex // serialises recording first-seen host keys
}

// Install copies the worker and the model to the board; the reference names both:
// ssh://USER@HOST:PORT/REMOTE-MODEL?vol=REMOTE-RUN-DIR&worker=REMOTE-WORKER.
func (s *SSHInstaller) Install(ctx context.Context, p Profile, a Artifact) (string, error) {
	if err := CheckStorage(p, a); err != nil {
		return "", err
	}
	c, err := s.dial(ctx, p)
	if err != nil {
		return "", err
	}
	defer c.Close()
	out, err := c.output(ctx, `uname -m; printf '%s\n' "$HOME"`)
	if err != nil {
		return "", fmt.Errorf("device %s: %w", p.Name, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !path.IsAbs(lines[1]) {
		return "", fmt.Errorf("device %s: unexpected answer to uname -m and $HOME: %q", p.Name, out)
	}
	arch, home := goarch(lines[0]), lines[1]
	if p.Arch != "" && p.Arch != arch {
		return "", fmt.Errorf("device %s is registered as %s but the board says %s (uname -m: %s); register it with --arch %s",
			p.Name, p.Arch, arch, lines[0], arch)
	}
	if s.Worker == nil {
		return "", errors.New("ssh installer: no worker binary source")
	}
	bin, err := s.Worker(ctx, arch)
	if err != nil {
		return "", err
	}
	sum, err := fileSum(bin)
	if err != nil {
		return "", err
	}
	root := path.Join(home, s.remoteDir())
	worker := path.Join(root, "bin", "tinyml-worker-"+sum[:16])
	if _, err := c.output(ctx, "test -x "+shq(worker)); err != nil {
		if err := c.upload(ctx, bin, worker, 0o755); err != nil {
			return "", fmt.Errorf("device %s: copy the worker: %w", p.Name, err)
		}
	}
	vol := path.Join(root, "runs", filepath.Base(a.Volume))
	model := path.Join(vol, filepath.ToSlash(a.Path))
	if err := c.upload(ctx, filepath.Join(a.Volume, a.Path), model, 0o644); err != nil {
		return "", fmt.Errorf("device %s: copy the model: %w", p.Name, err)
	}
	u := url.URL{Scheme: "ssh", User: url.User(p.User), Host: net.JoinHostPort(p.Host, strconv.Itoa(p.port())), Path: model,
		RawQuery: url.Values{"vol": {vol}, "worker": {worker}}.Encode()}
	return u.String(), nil
}

// Inference runs the installed worker on the board, in the run's directory there.
func (s *SSHInstaller) Inference(p Profile, volume, ref string) (runner.Runner, runner.Job) {
	job := runner.Job{Volume: volume, Limits: p.Limits()}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "ssh" || u.Query().Get("worker") == "" || u.Query().Get("vol") == "" {
		return failing{fmt.Errorf("device %s: %q is not what the ssh installer installs; run the install step again", p.Name, ref)}, job
	}
	job.Image = u.Query().Get("worker")
	vol := u.Query().Get("vol")
	return &SSHRunner{Profile: p, Installer: s, RemoteVolume: func(string) string { return vol }}, job
}

// ModelPath is the model's path in the run directory on the board.
func (s *SSHInstaller) ModelPath(ref string) string {
	u, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	rel := strings.TrimPrefix(u.Path, strings.TrimSuffix(u.Query().Get("vol"), "/")+"/")
	return rel
}

func (s *SSHInstaller) remoteDir() string {
	if s.RemoteDir == "" {
		return ".tinyml"
	}
	return s.RemoteDir
}

func (p Profile) port() int {
	if p.Port == 0 {
		return 22
	}
	return p.Port
}

// goarch maps `uname -m` to GOARCH.
func goarch(machine string) string {
	switch m := strings.TrimSpace(machine); {
	case m == "x86_64" || m == "amd64":
		return "amd64"
	case m == "aarch64" || m == "arm64":
		return "arm64"
	case strings.HasPrefix(m, "armv") || m == "arm":
		return "arm"
	case m == "i386" || m == "i686":
		return "386"
	case m == "riscv64":
		return "riscv64"
	default:
		return m
	}
}

// SSHRunner runs jobs on a board over SSH. Before a job it mirrors the local volume into the
// remote one (files whose POSIX cksum differs, and deletes files no longer there; the logs/
// directory is not copied); it runs Job.Image (the worker on the board) with the job's
// arguments — or Job.Command when there is no image — in the remote volume with
// $TINYML_VOLUME set, streaming its output; and afterwards it copies back every file the job
// created or changed. Cancelling the context kills the remote process and closes the session.
//
// CPU and memory limits are advisory (GOMAXPROCS, GOMEMLIMIT): the board is the limit.
type SSHRunner struct {
	Profile   Profile
	Installer *SSHInstaller
	// RemoteVolume maps the local volume to its directory on the board.
	RemoteVolume func(local string) string
}

// Name is "ssh".
func (*SSHRunner) Name() string { return "ssh" }

const pidFile = ".tinyml-job.pid"

// Run executes the job on the board.
func (r *SSHRunner) Run(ctx context.Context, job runner.Job) (runner.Result, error) {
	if job.Image == "" && len(job.Command) == 0 {
		return runner.Result{}, fmt.Errorf("job %s: nothing to run", job.Name)
	}
	if job.Limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.Limits.Timeout)
		defer cancel()
	}
	c, err := r.Installer.dial(ctx, r.Profile)
	if err != nil {
		return runner.Result{}, fmt.Errorf("job %s: %w", job.Name, err)
	}
	defer c.Close()
	vol := r.RemoteVolume(job.Volume)
	before, err := c.push(ctx, job.Volume, vol)
	if err != nil {
		return runner.Result{}, r.stopped(ctx, job, fmt.Errorf("job %s: copy the volume to %s: %w", job.Name, r.Profile.Name, err))
	}

	env := []string{runner.VolumeEnv + "=" + vol}
	args := job.Command
	if job.Image != "" {
		env = append(env, "TINYML_WORKER=1")
		args = append([]string{job.Image}, job.Command...)
	}
	if cpus := job.Limits.CPUs; cpus > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(int(math.Max(1, math.Ceil(cpus)))))
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
	var cmd strings.Builder
	fmt.Fprintf(&cmd, "cd %s && echo $$ > %s && exec env", shq(vol), pidFile)
	for _, e := range env {
		cmd.WriteString(" " + shq(e))
	}
	for _, a := range args {
		cmd.WriteString(" " + shq(a))
	}

	sess, err := c.NewSession()
	if err != nil {
		return runner.Result{}, fmt.Errorf("job %s: %w", job.Name, err)
	}
	defer sess.Close()
	sess.Stdout, sess.Stderr = orDiscard(job.Stdout), orDiscard(job.Stderr)
	start := time.Now()
	if err := sess.Start(cmd.String()); err != nil {
		return runner.Result{}, fmt.Errorf("job %s: start on %s: %w", job.Name, r.Profile.Name, err)
	}
	res := runner.Result{Handle: fmt.Sprintf("ssh://%s@%s:%d%s", r.Profile.User, r.Profile.Host, r.Profile.port(), vol)}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Kill the remote process (its pid is in the volume), then drop the session.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		c.output(kctx, fmt.Sprintf("kill -9 $(cat %s) 2>/dev/null; rm -f %s", shq(path.Join(vol, pidFile)), shq(path.Join(vol, pidFile))))
		cancel()
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		<-done
		res.Duration = time.Since(start)
		return res, r.stopped(ctx, job, nil)
	}
	res.Duration = time.Since(start)
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitStatus()
		if exitErr.Signal() != "" {
			res.ExitCode = 128 + signalNumber(exitErr.Signal())
		}
	default:
		return res, fmt.Errorf("job %s: on %s: %w", job.Name, r.Profile.Name, err)
	}
	if err := c.pull(ctx, vol, job.Volume, before); err != nil {
		return res, r.stopped(ctx, job, fmt.Errorf("job %s: copy the job's output back from %s: %w", job.Name, r.Profile.Name, err))
	}
	return res, nil
}

func (r *SSHRunner) stopped(ctx context.Context, job runner.Job, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && job.Limits.Timeout > 0:
		return fmt.Errorf("job %s: %w after %s", job.Name, runner.ErrTimeout, job.Limits.Timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("job %s: %w", job.Name, ctx.Err())
	}
	return err
}

func signalNumber(sig string) int {
	switch strings.TrimPrefix(sig, "SIG") {
	case "HUP":
		return 1
	case "INT":
		return 2
	case "KILL":
		return 9
	case "SEGV":
		return 11
	case "PIPE":
		return 13
	case "TERM":
		return 15
	}
	return 0
}

// sshConn is a connection to a board.
type sshConn struct {
	*ssh.Client
}

// dial connects and logs in with the profile's key, checking the host key.
func (s *SSHInstaller) dial(ctx context.Context, p Profile) (*sshConn, error) {
	keyPEM, err := os.ReadFile(p.KeyPath)
	if err != nil {
		return nil, fmt.Errorf("device %s: read the private key: %w", p.Name, err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	var pass *ssh.PassphraseMissingError
	if errors.As(err, &pass) {
		return nil, fmt.Errorf("device %s: the key %s is protected by a passphrase; give a key without one (a dedicated deploy key)", p.Name, p.KeyPath)
	} else if err != nil {
		return nil, fmt.Errorf("device %s: private key %s: %w", p.Name, p.KeyPath, err)
	}
	addr := net.JoinHostPort(p.Host, strconv.Itoa(p.port()))
	check, algos, err := s.hostKeys(addr)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", p.Name, err)
	}
	user := p.User
	if user == "" {
		user = "root"
	}
	timeout := s.DialTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: check,
		HostKeyAlgorithms: algos, Timeout: timeout}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("device %s: connect to %s: %w", p.Name, addr, err)
	}
	if dl, ok := dctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("device %s: ssh to %s@%s: %w", p.Name, user, addr, err)
	}
	nc.SetDeadline(time.Time{})
	return &sshConn{ssh.NewClient(cc, chans, reqs)}, nil
}

// hostKeys returns the host key check and, for a host already known, the key algorithms to ask
// for (so that the server presents the key type on record).
func (s *SSHInstaller) hostKeys(addr string) (ssh.HostKeyCallback, []string, error) {
	file, strict := s.KnownHosts, true
	if file == "" {
		if s.TOFUFile == "" {
			return nil, nil, errors.New("no known_hosts file: set the installer's KnownHosts or TOFUFile")
		}
		file, strict = s.TOFUFile, false
		s.tofuMu.Lock()
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			s.tofuMu.Unlock()
			return nil, nil, err
		}
		f, err := os.OpenFile(file, os.O_CREATE|os.O_RDONLY, 0o600)
		s.tofuMu.Unlock()
		if err != nil {
			return nil, nil, err
		}
		f.Close()
	}
	db, err := knownhosts.New(file)
	if err != nil {
		return nil, nil, fmt.Errorf("known hosts %s: %w", file, err)
	}
	var algos []string
	_, probe, _ := ed25519.GenerateKey(rand.Reader)
	if pk, err := ssh.NewSignerFromKey(probe); err == nil {
		var ke *knownhosts.KeyError
		if err := db(addr, &net.TCPAddr{}, pk.PublicKey()); errors.As(err, &ke) {
			for _, k := range ke.Want {
				switch t := k.Key.Type(); t {
				case ssh.KeyAlgoRSA:
					algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
				default:
					algos = append(algos, t)
				}
			}
		}
	}
	check := func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := db(host, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) > 0:
			return fmt.Errorf("the host key of %s (%s %s) is not the one on record in %s:%d: someone may be intercepting the connection; "+
				"if the board was reinstalled, delete that line", host, key.Type(), ssh.FingerprintSHA256(key), ke.Want[0].Filename, ke.Want[0].Line)
		case errors.As(err, &ke) && strict:
			return fmt.Errorf("the host key of %s (%s %s) is not in %s; add it (ssh-keyscan) or let the studio trust it on first use", host, key.Type(),
				ssh.FingerprintSHA256(key), file)
		case errors.As(err, &ke):
			s.tofuMu.Lock()
			defer s.tofuMu.Unlock()
			f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(host)}, key))
			return err
		}
		return err
	}
	return check, algos, nil
}

// output runs a command and returns its stdout; a non-zero exit is an error with its stderr.
func (c *sshConn) output(ctx context.Context, cmd string) (string, error) {
	return c.run(ctx, cmd, nil, nil)
}

func (c *sshConn) run(ctx context.Context, cmd string, stdin io.Reader, stdout io.Writer) (string, error) {
	sess, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdin, sess.Stderr = stdin, &errOut
	sess.Stdout = &out
	if stdout != nil {
		sess.Stdout = stdout
	}
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Close()
		return "", ctx.Err()
	}
	if err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = "no message"
		}
		return out.String(), fmt.Errorf("%s: %w (%s)", firstWord(cmd), err, msg)
	}
	return out.String(), nil
}

func firstWord(cmd string) string {
	if i := strings.IndexAny(cmd, " ;"); i > 0 {
		return cmd[:i]
	}
	return cmd
}

// upload writes a local file to a remote path atomically (cat into a temporary name, rename).
func (c *sshConn) upload(ctx context.Context, local, remote string, mode fs.FileMode) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp := remote + ".tmp"
	cmd := fmt.Sprintf("mkdir -p %s && cat > %s && chmod %o %s && mv -f %s %s",
		shq(path.Dir(remote)), shq(tmp), mode, shq(tmp), shq(tmp), shq(remote))
	_, err = c.run(ctx, cmd, f, nil)
	return err
}

// manifest maps a volume's relative file paths to "CRC SIZE" as POSIX cksum prints them.
type manifest map[string]string

const skipDir = "logs"

// remoteManifest lists the remote volume's files (creating the volume if needed).
func (c *sshConn) remoteManifest(ctx context.Context, vol string) (manifest, error) {
	out, err := c.output(ctx, fmt.Sprintf("mkdir -p %s && cd %s && find . -type f ! -path './%s/*' ! -name '%s' ! -name '.tmp-*' -exec cksum {} +",
		shq(vol), shq(vol), skipDir, pidFile))
	if err != nil {
		return nil, err
	}
	m := manifest{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		if len(f) == 3 {
			m[path.Clean(f[2])] = f[0] + " " + f[1]
		}
	}
	return m, sc.Err()
}

// localManifest lists a local volume's files with their POSIX cksum.
func localManifest(vol string) (manifest, error) {
	m := manifest{}
	err := filepath.WalkDir(vol, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(vol, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == skipDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".tmp-") || d.Name() == pidFile {
			return nil
		}
		sum, err := cksumFile(p)
		if err != nil {
			return err
		}
		m[rel] = sum
		return nil
	})
	return m, err
}

// push mirrors the local volume into the remote one and returns the remote manifest after it.
func (c *sshConn) push(ctx context.Context, local, remote string) (manifest, error) {
	lm, err := localManifest(local)
	if err != nil {
		return nil, err
	}
	rm, err := c.remoteManifest(ctx, remote)
	if err != nil {
		return nil, err
	}
	var send, drop []string
	for p, sum := range lm {
		if rm[p] != sum {
			send = append(send, p)
		}
	}
	for p := range rm {
		if _, ok := lm[p]; !ok {
			drop = append(drop, p)
		}
	}
	slices.Sort(send)
	slices.Sort(drop)
	if len(drop) > 0 {
		var cmd strings.Builder
		fmt.Fprintf(&cmd, "cd %s && rm -f", shq(remote))
		for _, p := range drop {
			cmd.WriteString(" " + shq(p))
		}
		if _, err := c.output(ctx, cmd.String()); err != nil {
			return nil, err
		}
	}
	if len(send) > 0 {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTar(pw, local, send)) }()
		_, err := c.run(ctx, fmt.Sprintf("tar -C %s -xf -", shq(remote)), pr, nil)
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			return nil, err
		}
	}
	return lm, nil
}

// pull copies back the remote files that are new or differ from before.
func (c *sshConn) pull(ctx context.Context, remote, local string, before manifest) error {
	after, err := c.remoteManifest(ctx, remote)
	if err != nil {
		return err
	}
	var get []string
	for p, sum := range after {
		if before[p] != sum {
			get = append(get, p)
		}
	}
	if len(get) == 0 {
		return nil
	}
	slices.Sort(get)
	var cmd strings.Builder
	fmt.Fprintf(&cmd, "cd %s && tar -cf -", shq(remote))
	for _, p := range get {
		cmd.WriteString(" " + shq(p))
	}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := readTar(pr, local)
		io.Copy(io.Discard, pr) // tar pads its end; the session must be able to finish writing
		errc <- err
	}()
	_, err = c.run(ctx, cmd.String(), nil, pw)
	pw.CloseWithError(err)
	if rerr := <-errc; err == nil {
		err = rerr
	}
	return err
}

func writeTar(w io.Writer, dir string, files []string) error {
	tw := tar.NewWriter(w)
	for _, rel := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Size: st.Size(), Mode: int64(st.Mode().Perm()), ModTime: st.ModTime(), Format: tar.FormatPAX})
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// readTar extracts regular files into dir, refusing paths that leave it.
func readTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg || !filepath.IsLocal(filepath.FromSlash(name)) {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
		if err != nil {
			return err
		}
		_, err = io.Copy(tmp, tr)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), dst)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
}

// shq quotes a word for a POSIX shell.
func shq(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// cksumTable is CRC-32 with the POSIX polynomial 0x04C11DB7, most significant bit first.
var cksumTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// cksum computes what POSIX cksum prints for data: "CRC SIZE".
func cksum(r io.Reader) (string, error) {
	var crc uint32
	var n uint64
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		for _, b := range buf[:k] {
			crc = crc<<8 ^ cksumTable[byte(crc>>24)^b]
		}
		n += uint64(k)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	for l := n; l > 0; l >>= 8 {
		crc = crc<<8 ^ cksumTable[byte(crc>>24)^byte(l)]
	}
	return fmt.Sprintf("%d %d", ^crc, n), nil
}

func cksumFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return cksum(f)
}

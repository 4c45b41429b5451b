package image

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// ErrNotStatic is matched by CheckStatic's refusal of a dynamically linked program: it cannot
// run in an image with no base layer, nor on a board without the same C library.
var ErrNotStatic = errors.New("not a statically linked executable")

// WorkerPackage is the dedicated worker program the Workers source builds when it has to: a
// main that only calls tinyml.RunWorker. It is not internal, so `go build` reaches it from any
// module that requires the SDK.
const WorkerPackage = "github.com/tinymlaas/tinyml/runner/docker/workerbin"

// elfArch maps ELF machines to GOARCH names.
var elfArch = map[elf.Machine]string{
	elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64", elf.EM_ARM: "arm", elf.EM_386: "386",
	elf.EM_RISCV: "riscv64", elf.EM_PPC64: "ppc64le", elf.EM_S390: "s390x", elf.EM_MIPS: "mips",
	elf.EM_LOONGARCH: "loong64",
}

// CheckStatic verifies that path is a statically linked Linux executable (no PT_INTERP program
// header, no DT_NEEDED library) and returns its architecture as a GOARCH name.
func CheckStatic(path string) (arch string, err error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("worker %s: not a Linux (ELF) executable: %w", path, err)
	}
	defer f.Close()
	arch = elfArch[f.Machine]
	if arch == "" {
		arch = strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
	}
	if f.Class == elf.ELFCLASS32 && arch == "ppc64le" {
		arch = "ppc"
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp, _ := io.ReadAll(io.LimitReader(p.Open(), 256))
			return arch, fmt.Errorf("worker %s is %w: it is dynamically linked (interpreter %s); build it with CGO_ENABLED=0 go build",
				path, ErrNotStatic, strings.TrimRight(string(interp), "\x00"))
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return arch, fmt.Errorf("worker %s is %w: it needs %s; build it with CGO_ENABLED=0 go build", path, ErrNotStatic, strings.Join(libs, ", "))
	}
	return arch, nil
}

// Workers finds a statically linked worker binary for an architecture, in this order:
//
//  1. Path, when set (it must be static and of the right architecture);
//  2. the running executable, when it is static and of that architecture (a program that
//     calls tinyml.WorkerMain first thing in main, like the tinyml command built with
//     CGO_ENABLED=0, is its own worker);
//  3. a worker built earlier for this executable, in CacheDir;
//  4. `CGO_ENABLED=0 GOOS=linux GOARCH=ARCH go build WorkerPackage`, when the go tool and the
//     module's source are at hand (e.g. under `go run` or `go test`, whose binaries use cgo),
//     cached in CacheDir under a name keyed by the running executable's content.
//
// It is safe for concurrent use; a binary is resolved once per architecture.
type Workers struct {
	Path     string
	CacheDir string
	// GoDir is the directory `go build` runs in (a module that has the SDK); default: the
	// nearest directory with a go.mod above the working directory.
	GoDir string
	Log   *slog.Logger

	mu   sync.Mutex
	bins map[string]string
}

// Binary returns the path of a static worker for arch (a GOARCH; "" is this host's).
func (w *Workers) Binary(ctx context.Context, arch string) (string, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if b, ok := w.bins[arch]; ok {
		return b, nil
	}
	b, err := w.resolve(ctx, arch)
	if err != nil {
		return "", err
	}
	if w.bins == nil {
		w.bins = map[string]string{}
	}
	w.bins[arch] = b
	return b, nil
}

func (w *Workers) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (w *Workers) resolve(ctx context.Context, arch string) (string, error) {
	if w.Path != "" {
		got, err := CheckStatic(w.Path)
		if err != nil {
			return "", err
		}
		if got != arch {
			return "", fmt.Errorf("worker %s is built for %s, but the target is %s: build one with CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -o FILE %s",
				w.Path, got, arch, arch, WorkerPackage)
		}
		return w.Path, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if runtime.GOOS == "linux" && arch == runtime.GOARCH {
		if _, err := CheckStatic(exe); err == nil {
			return exe, nil
		} else {
			w.log().Debug("the running program cannot be the worker", "err", err)
		}
	}
	key, err := fileHash(exe)
	if err != nil {
		return "", err
	}
	dir := w.CacheDir
	if dir == "" {
		if dir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	cached := filepath.Join(dir, fmt.Sprintf("worker-linux-%s-%s", arch, key[:16]))
	if _, err := CheckStatic(cached); err == nil {
		return cached, nil
	}
	return w.build(ctx, arch, cached)
}

// build compiles WorkerPackage into dst.
func (w *Workers) build(ctx context.Context, arch, dst string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no static worker for linux/%s: this program is not statically linked and the go tool is not on PATH; "+
			"build one with CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -o FILE %s and give it with tinyml.WithWorkerBinary or $TINYML_WORKER_BINARY",
			arch, arch, WorkerPackage)
	}
	dir := w.GoDir
	if dir == "" {
		dir = moduleDir()
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp := dst + fmt.Sprintf(".tmp%d", os.Getpid())
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, WorkerPackage)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	w.log().Info("building a static worker", "arch", arch, "package", WorkerPackage, "dir", dir)
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build a static worker for linux/%s (CGO_ENABLED=0 go build %s in %s): %w: %s",
			arch, WorkerPackage, dir, err, strings.TrimSpace(out.String()))
	}
	if _, err := CheckStatic(tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", err
	}
	prune(filepath.Dir(dst), fmt.Sprintf("worker-linux-%s-*", arch), 4)
	return dst, nil
}

// prune keeps the newest keep files matching pattern in dir (workers built for programs that
// have since been rebuilt are never used again).
func prune(dir, pattern string, keep int) {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(files) <= keep {
		return
	}
	mtime := func(p string) int64 {
		st, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return st.ModTime().UnixNano()
	}
	slices.SortFunc(files, func(a, b string) int { return cmp.Compare(mtime(b), mtime(a)) })
	for _, f := range files[keep:] {
		if !strings.Contains(filepath.Base(f), ".tmp") {
			os.Remove(f)
		}
	}
}

// DefaultCacheDir is where built workers are kept: $XDG_CACHE_HOME/tinyml (~/.cache/tinyml).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for built workers (%w); set $XDG_CACHE_HOME or give a worker binary", err)
	}
	return filepath.Join(d, "tinyml"), nil
}

// moduleDir is the nearest directory holding a go.mod, from the working directory up (or the
// working directory itself).
func moduleDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
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

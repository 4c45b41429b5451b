// Package device describes the targets a model is installed on and installs it there.
//
// A Profile is what a user registers: the device's kind (local, docker, ssh), its architecture,
// CPUs, memory and storage, and how to reach it. An Installer puts a compiled model on the device
// and says how inference runs there: which runner, and the job's limits.
package device

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/tinymlaas/tinyml/runner"
)

// Kind is how a device is reached.
type Kind string

// Device kinds.
const (
	Local  Kind = "local"  // this host
	Docker Kind = "docker" // a resource-limited container standing in for a small board
	SSH    Kind = "ssh"    // a Linux board reached over SSH
)

// Profile is a registered device.
type Profile struct {
	Name         string  `json:"name"`
	Kind         Kind    `json:"kind"`
	Arch         string  `json:"arch"`
	CPUs         float64 `json:"cpus,omitempty"`
	MemoryBytes  int64   `json:"memory_bytes,omitempty"`
	StorageBytes int64   `json:"storage_bytes,omitempty"`
	// Host, User, Port and KeyPath reach an ssh device.
	Host    string `json:"host,omitempty"`
	User    string `json:"user,omitempty"`
	Port    int    `json:"port,omitempty"`
	KeyPath string `json:"key_path,omitempty"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate checks the profile and fills defaults (Arch: this host's).
func (p *Profile) Validate() error {
	if !nameRE.MatchString(p.Name) {
		return fmt.Errorf("device name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", p.Name)
	}
	switch p.Kind {
	case Local, Docker:
	case SSH:
		if p.Host == "" {
			return fmt.Errorf("device %s: an ssh device needs --host user@addr:port", p.Name)
		}
		if p.KeyPath == "" {
			return fmt.Errorf("device %s: an ssh device needs --key FILE (a private key)", p.Name)
		}
	default:
		return fmt.Errorf("device %s: unknown kind %q (local, docker or ssh)", p.Name, p.Kind)
	}
	if p.Arch == "" {
		p.Arch = runtime.GOARCH
	}
	if p.CPUs < 0 || p.MemoryBytes < 0 || p.StorageBytes < 0 {
		return fmt.Errorf("device %s: CPUs, memory and storage cannot be negative", p.Name)
	}
	return nil
}

// ParseHost splits "user@addr:port" (user and port optional).
func ParseHost(s string) (user, host string, port int, err error) {
	user, host = "", s
	if i := strings.LastIndex(s, "@"); i >= 0 {
		user, host = s[:i], s[i+1:]
	}
	port = 22
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") {
		p, perr := strconv.Atoi(host[i+1:])
		if perr != nil || p < 1 || p > 65535 {
			return "", "", 0, fmt.Errorf("host %q: port %q is not a number from 1 to 65535", s, host[i+1:])
		}
		host, port = host[:i], p
	}
	host = strings.Trim(host, "[]")
	if host == "" || strings.ContainsAny(host, " \t\r\n/@[]") {
		return "", "", 0, fmt.Errorf("host %q: no valid address (write user@addr:port)", s)
	}
	return user, host, port, nil
}

// ParseBytes reads sizes as users write them: 64MiB, 4 MiB, 512KiB, 2GB, 1048576.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: write a number and a unit, e.g. 64MiB or 512KiB", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1e3, "kib": 1 << 10, "m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (B, KiB, MiB, GiB, KB, MB, GB)", s, unit)
	}
	if v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(v * mult), nil
}

// ErrTooBig is matched by an install refused because the model exceeds the device's storage.
var ErrTooBig = errors.New("model does not fit the device")

// Artifact is a compiled model ready to install.
type Artifact struct {
	Volume string // the run's volume on this host
	Path   string // the model's path relative to the volume
	Bytes  int64
}

// Installer installs compiled models on devices of one kind and runs inference there.
type Installer interface {
	// Install puts the artifact on the device and returns what was installed (a path on the
	// device, an image reference), which the studio records.
	Install(ctx context.Context, p Profile, a Artifact) (ref string, err error)
	// Inference returns the runner and the job template (volume, limits, image) that run
	// inference on the device with what Install produced; the studio adds the command.
	Inference(p Profile, volume, ref string) (runner.Runner, runner.Job)
}

// CheckStorage refuses a model larger than the device's storage, naming both sizes.
func CheckStorage(p Profile, a Artifact) error {
	if p.StorageBytes > 0 && a.Bytes > p.StorageBytes {
		return fmt.Errorf("%w: the compiled model is %s but device %s has %s of storage; choose a stronger compression or a bigger device",
			ErrTooBig, runner.FormatBytes(a.Bytes), p.Name, runner.FormatBytes(p.StorageBytes))
	}
	return nil
}

// Limits are the runner limits that model the device.
func (p Profile) Limits() runner.Limits {
	return runner.Limits{CPUs: p.CPUs, MemoryBytes: p.MemoryBytes, PIDs: 64}
}

// Package testenv lets tests find the real parts they need (Debian's ONNX test data, a Docker
// engine, Chromium) and decides what happens when one is missing: outside CI the test is skipped
// with a message saying how to get the part; in CI (CI=true) it fails, because .ci/run installs
// every part and a silent skip would hide a broken set-up.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI, where every part must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test (or fails it in CI) because a part is absent.
func Missing(t testing.TB, part, howto string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is missing in CI: %s", part, howto)
	}
	t.Skipf("%s is missing (%s); skipping", part, howto)
}

// OnnxTestdata returns the directory of Debian's libonnx-testdata (which holds node/,
// pytorch-converted/, ...), honouring $ONNX_TESTDATA.
func OnnxTestdata(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("ONNX_TESTDATA")
	if dir == "" {
		dir = "/usr/share/libonnx-testdata/data"
	}
	if _, err := os.Stat(filepath.Join(dir, "node")); err != nil {
		Missing(t, "ONNX test data", "apt-get install -y libonnx-testdata, or set ONNX_TESTDATA")
	}
	return dir
}

// RepoFile returns the path of a file relative to the repository root, found by walking up from
// the test's working directory to go.mod.
func RepoFile(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Docker skips the test (fails it in CI) unless a Docker engine answers at $DOCKER_HOST or the
// local socket. It speaks plain HTTP to /_ping, so tests that only need to know pay no client.
func Docker(t testing.TB) {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	network, addr, ok := strings.Cut(host, "://")
	if !ok || (network != "unix" && network != "tcp") {
		Missing(t, "a Docker engine", fmt.Sprintf("DOCKER_HOST=%q is not unix:// or tcp://", host))
		return
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	resp, err := hc.Get("http://docker/_ping")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		err = fmt.Errorf("status %s", resp.Status)
	}
	Missing(t, "a Docker engine", fmt.Sprintf("%s: %v; start one with `dockerd --iptables=false --bridge=none --storage-driver=vfs &`", host, err))
}

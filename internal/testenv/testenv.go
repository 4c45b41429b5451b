// Package testenv lets tests find the real parts they need (Debian's ONNX test data, a Docker
// engine, Chromium) and decides what happens when one is missing: outside CI the test is skipped
// with a message saying how to get the part; in CI (CI=true) it fails, because .ci/run installs
// every part and a silent skip would hide a broken set-up.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
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

//go:build unix

package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHServer is a real OpenSSH server started for a test: a stand-in for a Linux board.
type SSHServer struct {
	Host    string // 127.0.0.1
	Port    int
	User    string // the user running the tests
	KeyPath string // the user's private key (OpenSSH format, no passphrase)
	HostKey ssh.PublicKey
	Dir     string // the server's temporary directory (config, keys, log)
}

// Addr is "user@host:port".
func (s SSHServer) Addr() string { return fmt.Sprintf("%s@%s:%d", s.User, s.Host, s.Port) }

// SSHD starts Debian's OpenSSH server on a free loopback port with fresh host and user keys
// (key login only) and stops it, by its pid file, when the test ends. Without /usr/sbin/sshd
// the test is skipped (failed in CI).
func SSHD(t testing.TB) SSHServer {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		Missing(t, "OpenSSH server", "apt-get install -y openssh-server")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeKey := func(name string) ssh.PublicKey {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		sp, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	hostKey := writeKey("host_ed25519")
	userKey := writeKey("id_ed25519")
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userKey), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pidFile := filepath.Join(dir, "sshd.pid")
	config := strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"Port " + strconv.Itoa(port),
		"HostKey " + filepath.Join(dir, "host_ed25519"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PidFile " + pidFile,
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password",
		"StrictModes no",
		"UsePAM no",
		"AllowUsers " + u.Username,
		"",
	}, "\n")
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "sshd.log")
	if out, err := exec.Command(sshd, "-f", cfgPath, "-E", logPath).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("start sshd: %v: %s %s", err, out, log)
	}
	t.Cleanup(func() {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("sshd did not listen on %d: %v: %s", port, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return SSHServer{Host: "127.0.0.1", Port: port, User: u.Username, KeyPath: filepath.Join(dir, "id_ed25519"), HostKey: hostKey, Dir: dir}
}

package device

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseBytesReadsWhatUsersWrite(t *testing.T) {
	for in, want := range map[string]int64{"64MiB": 64 << 20, "4 MiB": 4 << 20, "512KiB": 512 << 10, "2GB": 2e9, "1048576": 1 << 20, "1.5k": 1536} {
		got, err := ParseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "12 parsecs", "1e3MiB"} {
		_, err := ParseBytes(bad)
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "size")
	}
}

func TestParseHostSplitsUserAddressAndPort(t *testing.T) {
	user, host, port, err := ParseHost("pi@10.0.0.5:2222")
	require.NoError(t, err)
	require.Equal(t, []any{"pi", "10.0.0.5", 2222}, []any{user, host, port})
	_, host, port, err = ParseHost("board.local")
	require.NoError(t, err)
	require.Equal(t, []any{"board.local", 22}, []any{host, port})
	_, host, _, err = ParseHost("root@[::1]:22")
	require.NoError(t, err)
	require.Equal(t, "::1", host)
	for _, bad := range []string{"pi@", "pi@host:0", "pi@host:99999", "host:port"} {
		_, _, _, err := ParseHost(bad)
		require.Error(t, err, bad)
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"64MiB", "4 MiB", "1.5k", "", "9999999999999999999GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err == nil && n < 0 {
			t.Fatalf("%q parsed to a negative size %d", s, n)
		}
	})
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"pi@10.0.0.5:22", "host", "[::1]:2222", "@:", "a@b@c:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, host, port, err := ParseHost(s)
		if err == nil && (host == "" || port < 1 || port > 65535) {
			t.Fatalf("%q gave host %q port %d without an error", s, host, port)
		}
	})
}

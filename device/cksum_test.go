package device

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCksumMatchesPOSIXCksum(t *testing.T) {
	if _, err := exec.LookPath("cksum"); err != nil {
		t.Skip("no cksum on PATH")
	}
	for _, data := range [][]byte{nil, []byte("a"), []byte("hello, board\n"), bytes.Repeat([]byte{0xff, 0, 7}, 100000)} {
		cmd := exec.Command("cksum")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		require.NoError(t, err)
		got, err := cksum(bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, strings.TrimSpace(string(out)), got)
	}
}

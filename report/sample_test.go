package report_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

// TestWriteSample writes the sample report to $TINYML_REPORT_DIR for a person to look at.
func TestWriteSample(t *testing.T) {
	dir := os.Getenv("TINYML_REPORT_DIR")
	if dir == "" {
		t.Skip("set TINYML_REPORT_DIR to write the sample report there")
	}
	r := report.New(sampleRuns(), report.WithConstraints(report.Constraints{MaxSizeBytes: 300 << 10, MaxLatencyP50MS: 3}))
	_, err := r.WriteDir(context.Background(), dir)
	require.NoError(t, err)
	big := report.New(syntheticRuns(1000))
	_, err = big.WriteDir(context.Background(), dir+"/big")
	require.NoError(t, err)
}

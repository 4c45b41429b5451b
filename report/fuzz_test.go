package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

// Seeds live in testdata/fuzz/<name>; run with e.g. go test -fuzz FuzzParseHistory ./report/

func FuzzParseHistory(f *testing.F) {
	f.Add([]byte(`{"version":"v1","time":"2025-03-01T12:00:00Z","model":"m","technique":"none","accuracy":0.9,"latency_ms":{"p50":1}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := report.ParseHistory(bytes.NewReader(data), "fuzz.jsonl")
		if err != nil {
			var pe *report.ParseError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "fuzz.jsonl", pe.File)
			require.GreaterOrEqual(t, pe.Line, 1)
			require.LessOrEqual(t, pe.Line, bytes.Count(data, []byte("\n"))+1)
			require.True(t, strings.HasPrefix(err.Error(), "fuzz.jsonl:"), "error %q names the file", err)
			return
		}
		// What parses must be written back and parse to the same entries.
		var buf bytes.Buffer
		for _, e := range es {
			b, err := json.Marshal(e)
			require.NoError(t, err)
			buf.Write(append(b, '\n'))
		}
		again, err := report.ParseHistory(&buf, "again.jsonl")
		require.NoError(t, err)
		require.Equal(t, normTimes(es), normTimes(again))
	})
}

func normTimes(es []report.Entry) []report.Entry {
	out := make([]report.Entry, len(es))
	for i, e := range es {
		e.Time = e.Time.UTC()
		out[i] = e
	}
	return out
}

func FuzzReadCSV(f *testing.F) {
	f.Add("id,model,technique,accuracy,latency_p50_ms,packed_bytes\nr1,cnn,none,0.9,1.5,1000\n")
	f.Fuzz(func(t *testing.T, data string) {
		runs, err := report.ReadCSV(strings.NewReader(data))
		if err != nil {
			var pe *report.ParseError
			require.ErrorAs(t, err, &pe)
			require.GreaterOrEqual(t, pe.Line, 1)
			return
		}
		rows := report.New(runs, report.WithGeneratedAt(time.Unix(0, 0))).Rows()
		var buf bytes.Buffer
		require.NoError(t, report.New(runs).WriteCSV(&buf))
		again, err := report.ReadCSV(&buf)
		require.NoError(t, err)
		require.Len(t, again, len(rows))
		for i, r := range rows {
			want, got := r.Run, again[i]
			require.True(t, want.Finished.Equal(got.Finished))
			want.Finished, got.Finished = time.Time{}, time.Time{}
			require.Equal(t, want, got)
		}
	})
}

package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Entry is one benchmark result in the performance history: one line of a JSON Lines file.
type Entry struct {
	Version     string    `json:"version,omitempty"` // of the code benchmarked, e.g. a tag or commit
	Time        time.Time `json:"time"`
	Machine     string    `json:"machine,omitempty"` // where the benchmark ran
	Model       string    `json:"model"`
	Dataset     string    `json:"dataset,omitempty"`
	Technique   string    `json:"technique"`
	Device      string    `json:"device,omitempty"`
	Accuracy    float64   `json:"accuracy"` // 0..1
	Latency     Latency   `json:"latency_ms"`
	SizeBytes   int64     `json:"size_bytes"`
	MemoryBytes int64     `json:"memory_bytes"`
}

// seriesKey identifies the entries that are comparable over time.
type seriesKey struct{ machine, model, dataset, technique, device string }

func (e Entry) key() seriesKey {
	return seriesKey{e.Machine, e.Model, e.Dataset, e.Technique, e.Device}
}

// Key names the series an entry belongs to: entries with equal keys are compared by [Gate].
func (e Entry) Key() string {
	s := e.Model
	if e.Dataset != "" {
		s += "/" + e.Dataset
	}
	s += " · " + e.Technique
	if e.Device != "" {
		s += " @ " + e.Device
	}
	if e.Machine != "" {
		s += " on " + e.Machine
	}
	return s
}

// validate says what is wrong with an entry, naming the fields.
func (e Entry) validate() error {
	var problems []string
	if strings.TrimSpace(e.Model) == "" {
		problems = append(problems, `"model" is missing`)
	}
	if strings.TrimSpace(e.Technique) == "" {
		problems = append(problems, `"technique" is missing`)
	}
	if e.Time.IsZero() {
		problems = append(problems, `"time" is missing (RFC 3339, e.g. "2025-01-31T12:00:00Z")`)
	}
	if !(e.Accuracy >= 0 && e.Accuracy <= 1) {
		problems = append(problems, fmt.Sprintf(`"accuracy" %v: want a share between 0 and 1`, e.Accuracy))
	}
	l := e.Latency
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"latency_ms.min", l.Min}, {"latency_ms.p50", l.P50}, {"latency_ms.p90", l.P90},
		{"latency_ms.p99", l.P99}, {"latency_ms.mean", l.Mean},
		{"size_bytes", float64(e.SizeBytes)}, {"memory_bytes", float64(e.MemoryBytes)},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			problems = append(problems, fmt.Sprintf("%q %v: want a finite number ≥ 0", f.name, f.v))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// EntriesFromRuns turns the finished runs of a report into history entries.
func EntriesFromRuns(runs []Run, version, machine string, at time.Time) []Entry {
	var es []Entry
	for _, r := range runs {
		if !r.Done() {
			continue
		}
		es = append(es, Entry{
			Version: version, Time: at, Machine: machine,
			Model: r.Model, Dataset: r.Dataset, Technique: r.Technique, Device: r.Device,
			Accuracy: r.Metrics.Accuracy, Latency: r.Metrics.Latency,
			SizeBytes: r.Metrics.SizeBytes(), MemoryBytes: r.Metrics.MemoryBytes(),
		})
	}
	return es
}

// ParseError is a line of a history or CSV file that could not be read.
type ParseError struct {
	File string // empty when reading from a stream without a name
	Line int    // 1-based
	Err  error
}

func (e *ParseError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// maxLine bounds one history line; real entries are a few hundred bytes.
const maxLine = 1 << 20

// ParseHistory reads JSON Lines history entries, one object per line; blank lines are skipped and
// unknown fields ignored (a newer writer may add some). name is used in errors only. The first bad
// line stops the parse with a *ParseError naming the file and line.
func ParseHistory(r io.Reader, name string) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var es []Entry
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, &ParseError{File: name, Line: line, Err: explainJSON(err)}
		}
		if err := e.validate(); err != nil {
			return nil, &ParseError{File: name, Line: line, Err: err}
		}
		es = append(es, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes: is this a JSON Lines history file?", maxLine)
		}
		return nil, &ParseError{File: name, Line: line + 1, Err: err}
	}
	return es, nil
}

// explainJSON turns encoding/json errors into ones that point at the column or field.
func explainJSON(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at column %d: %w", se.Offset, err)
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("field %q: got a JSON %s, want %s: %w", te.Field, te.Value, te.Type, err)
	case errors.As(err, &te):
		return fmt.Errorf("got a JSON %s, want an object: %w", te.Value, err)
	}
	return fmt.Errorf("invalid entry: %w", err)
}

// ReadHistory reads the history file at path. A missing file is an empty history, so that the
// first CI run passes the gate.
func ReadHistory(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: read history: %w", err)
	}
	defer f.Close()
	return ParseHistory(f, path)
}

// AppendHistory appends entries to the JSON Lines file at path, creating it and its directory if
// needed. Entries are validated first so the file never holds a line ParseHistory rejects, and
// all of them are written in one append.
func AppendHistory(path string, entries ...Entry) error {
	var buf bytes.Buffer
	for i, e := range entries {
		if err := e.validate(); err != nil {
			return fmt.Errorf("report: history entry %d (%s): %w", i, e.Key(), err)
		}
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("report: history entry %d (%s): %w", i, e.Key(), err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("report: append history: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("report: append history: %w", err)
	}
	// A file cut short by a crash lacks its final newline; start on a fresh line rather than
	// gluing our first entry onto the broken one.
	data := buf.Bytes()
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			data = append([]byte{'\n'}, data...)
		}
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report: append history: %w", err)
	}
	return nil
}

// Thresholds decide what Gate calls a regression. A zero field turns that check off.
type Thresholds struct {
	// MinAccuracyRatio: accuracy below this times the previous accuracy regresses (0.9).
	MinAccuracyRatio float64 `json:"min_accuracy_ratio"`
	// MaxLatencyRatio: p50 latency above this times the previous p50 regresses (1.25).
	MaxLatencyRatio float64 `json:"max_latency_ratio"`
	// MaxSizeRatio and MaxMemoryRatio do the same for size and memory; off by default.
	MaxSizeRatio   float64 `json:"max_size_ratio,omitempty"`
	MaxMemoryRatio float64 `json:"max_memory_ratio,omitempty"`
}

// DefaultThresholds flags accuracy below 0.9× or p50 latency above 1.25× the previous entry.
func DefaultThresholds() Thresholds { return Thresholds{MinAccuracyRatio: 0.9, MaxLatencyRatio: 1.25} }

// Regression is one metric of one series that got worse than the thresholds allow.
type Regression struct {
	Key             string  `json:"key"`
	Metric          string  `json:"metric"` // "accuracy", "latency p50", "size", "memory"
	Previous        float64 `json:"previous"`
	Current         float64 `json:"current"`
	Ratio           float64 `json:"ratio"` // current / previous
	Limit           float64 `json:"limit"` // the threshold ratio it crossed
	PreviousVersion string  `json:"previous_version,omitempty"`
	CurrentVersion  string  `json:"current_version,omitempty"`
}

func (r Regression) String() string {
	show := fmtNum
	switch r.Metric {
	case "accuracy":
		show = fmtPct
	case "latency p50":
		show = fmtMS
	case "size", "memory":
		show = func(v float64) string { return fmtBytes(int64(v)) }
	}
	verb := "rose"
	if r.Metric == "accuracy" {
		verb = "fell"
	}
	from := "from " + show(r.Previous)
	if r.PreviousVersion != "" {
		from += " in " + r.PreviousVersion
	}
	return fmt.Sprintf("%s: %s %s to %s %s (%s×, limit %s×)", r.Key, r.Metric, verb, show(r.Current), from,
		fmtNum(r.Ratio), fmtNum(r.Limit))
}

// ErrRegression is matched by the error Gate returns (errors.Is).
var ErrRegression = errors.New("performance regression")

// RegressionError lists every regression Gate found.
type RegressionError struct {
	Regressions []Regression
}

func (e *RegressionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d performance regression(s):", len(e.Regressions))
	for _, r := range e.Regressions {
		b.WriteString("\n  - " + r.String())
	}
	return b.String()
}

func (e *RegressionError) Unwrap() error { return ErrRegression }

// Gate compares each current entry with the latest previous entry of the same series (machine,
// model, dataset, technique, device) and returns a *RegressionError listing every metric that
// crossed its threshold, or nil. Series without history pass; so do metrics not measured on
// either side.
func Gate(prev, cur []Entry, th Thresholds) error {
	latest := map[seriesKey]Entry{}
	for _, e := range prev {
		if old, ok := latest[e.key()]; !ok || !e.Time.Before(old.Time) {
			latest[e.key()] = e
		}
	}
	var regs []Regression
	for _, c := range cur {
		p, ok := latest[c.key()]
		if !ok {
			continue
		}
		check := func(metric string, pv, cv, limit float64, lower bool) {
			if limit <= 0 || pv <= 0 || cv < 0 || (cv == 0 && !lower) {
				return
			}
			r := cv / pv
			if (lower && r < limit) || (!lower && r > limit) {
				regs = append(regs, Regression{Key: c.Key(), Metric: metric, Previous: pv, Current: cv, Ratio: r,
					Limit: limit, PreviousVersion: p.Version, CurrentVersion: c.Version})
			}
		}
		check("accuracy", p.Accuracy, c.Accuracy, th.MinAccuracyRatio, true)
		check("latency p50", p.Latency.P50, c.Latency.P50, th.MaxLatencyRatio, false)
		check("size", float64(p.SizeBytes), float64(c.SizeBytes), th.MaxSizeRatio, false)
		check("memory", float64(p.MemoryBytes), float64(c.MemoryBytes), th.MaxMemoryRatio, false)
	}
	if len(regs) == 0 {
		return nil
	}
	return &RegressionError{Regressions: regs}
}

// splitLatest separates, per series, the newest entry from the ones before it: the history
// page gates the former against the latter.
func splitLatest(entries []Entry) (prev, cur []Entry) {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	last := map[seriesKey]int{}
	for i, e := range sorted {
		last[e.key()] = i
	}
	for i, e := range sorted {
		if last[e.key()] == i {
			cur = append(cur, e)
		} else {
			prev = append(prev, e)
		}
	}
	slices.SortFunc(cur, func(a, b Entry) int {
		return cmp.Or(strings.Compare(a.Model, b.Model), strings.Compare(a.Dataset, b.Dataset),
			compareTechniques(a.Technique, b.Technique), strings.Compare(a.Device, b.Device),
			strings.Compare(a.Machine, b.Machine))
	})
	return prev, cur
}

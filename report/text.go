package report

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// WriteJSON writes the report as one JSON document: title, time, the table rows (each run with
// its metrics, baseline delta and Pareto marks) and the recommendation.
func (r *Report) WriteJSON(w io.Writer) error {
	doc := struct {
		Title          string         `json:"title"`
		GeneratedAt    time.Time      `json:"generated_at"`
		Runs           []Row          `json:"runs"`
		Recommendation Recommendation `json:"recommendation"`
	}{r.cfg.title, r.cfg.generatedAt, r.rows, r.rec}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("report: write JSON: %w", err)
	}
	return nil
}

// WriteMarkdown writes the summary, recommendation and table as GitHub-flavoured Markdown.
func (r *Report) WriteMarkdown(w io.Writer) error { return r.writeMarkdown(w, nil) }

// writeMarkdown also links plots, written next to the file by WriteDir.
func (r *Report) writeMarkdown(w io.Writer, plots []Plot) error {
	mdEscape := mdEscaper()
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", mdEscape(r.cfg.title), r.overview())
	b.WriteString("## Recommendation\n\n")
	fmt.Fprintf(&b, "**%s**\n\n", mdEscape(r.rec.Summary))
	if r.rec.Why != "" {
		fmt.Fprintf(&b, "%s\n\n", mdEscape(r.rec.Why))
	}
	if len(r.rec.Others) > 0 {
		b.WriteString("Why not the others:\n\n")
		for i, v := range r.rec.Others {
			if i == 30 {
				fmt.Fprintf(&b, "- … and %d more (see report.json)\n", len(r.rec.Others)-i)
				break
			}
			fmt.Fprintf(&b, "- %s: %s\n", mdEscape(v.Label), mdEscape(strings.Join(v.Reasons, "; ")))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Runs\n\n")
	cols := tableColumns(r.rows)
	for _, c := range cols {
		fmt.Fprintf(&b, "| %s ", mdEscape(c.head))
	}
	b.WriteString("|\n")
	for _, c := range cols {
		if c.numeric {
			b.WriteString("|---:")
		} else {
			b.WriteString("|---")
		}
	}
	b.WriteString("|\n")
	for _, row := range r.rows {
		for _, c := range cols {
			t, _ := c.cell(row)
			fmt.Fprintf(&b, "| %s ", mdEscape(t))
		}
		b.WriteString("|\n")
	}
	if len(plots) > 0 {
		b.WriteString("\n## Plots\n")
		for _, p := range plots {
			fmt.Fprintf(&b, "\n### %s\n\n![%s](plots/%s.png)\n\n%s\n", mdEscape(p.Title), mdEscape(p.Title), p.Name, mdEscape(p.Caption))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: write Markdown: %w", err)
	}
	return nil
}

// mdEscaper returns a function that keeps text from breaking a table cell or turning into
// markup. "<" is escaped only where it could open an HTML tag, so that "93% < 97%" stays
// readable as plain text.
func mdEscaper() func(string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`, "`", "\\`")
	return func(s string) string {
		s = r.Replace(s)
		if !strings.Contains(s, "<") {
			return s
		}
		var b strings.Builder
		for i, c := range s {
			if c == '<' && i+1 < len(s) && (isLetter(s[i+1]) || strings.ContainsRune("/!?", rune(s[i+1]))) {
				b.WriteString("&lt;")
				continue
			}
			b.WriteRune(c)
		}
		return b.String()
	}
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// overview is one line: how many runs of what, and when.
func (r *Report) overview() string {
	var done, failed int
	models, devices := map[string]bool{}, map[string]bool{}
	for _, row := range r.rows {
		models[row.Model], devices[row.Device] = true, true
		switch {
		case row.Done():
			done++
		case row.Status == StatusFailed || row.Status == StatusCanceled:
			failed++
		}
	}
	s := fmt.Sprintf("%d runs (%d finished", len(r.rows), done)
	if failed > 0 {
		s += fmt.Sprintf(", %d failed or canceled", failed)
	}
	if rest := len(r.rows) - done - failed; rest > 0 {
		s += fmt.Sprintf(", %d not finished", rest)
	}
	on := fmt.Sprintf("%d devices", len(devices))
	if len(devices) == 1 {
		for d := range devices {
			on = d
		}
	}
	return s + fmt.Sprintf(") of %d model(s) on %s; generated %s.", len(models), on,
		r.cfg.generatedAt.Format("2006-01-02 15:04 MST"))
}

// csvField is one CSV column: how to write it from a row and read it back into a run. Derived
// columns (deltas, fronts) have no set: ReadCSV skips them and New recomputes them.
type csvField struct {
	name string
	get  func(Row) string
	set  func(*Run, string) error
}

func csvFields() []csvField {
	str := func(name string, p func(*Run) *string) csvField {
		return csvField{name, func(r Row) string { return *p(&r.Run) }, func(r *Run, s string) error { *p(r) = s; return nil }}
	}
	num := func(name string, p func(*Run) *float64) csvField {
		return csvField{name, func(r Row) string { return strconv.FormatFloat(*p(&r.Run), 'g', -1, 64) },
			func(r *Run, s string) error {
				v, err := strconv.ParseFloat(s, 64)
				if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
					err = fmt.Errorf("%q is not a finite number", s)
				}
				*p(r) = v
				return err
			}}
	}
	integer := func(name string, p func(*Run) *int64) csvField {
		return csvField{name, func(r Row) string { return strconv.FormatInt(*p(&r.Run), 10) },
			func(r *Run, s string) error {
				v, err := strconv.ParseInt(s, 10, 64)
				*p(r) = v
				return err
			}}
	}
	derived := func(name string, get func(Row) string) csvField { return csvField{name: name, get: get} }
	dnum := func(name string, f func(*Delta) float64) csvField {
		return derived(name, func(r Row) string {
			if r.Delta == nil {
				return ""
			}
			return strconv.FormatFloat(f(r.Delta), 'g', -1, 64)
		})
	}
	return []csvField{
		str("id", func(r *Run) *string { return &r.ID }),
		str("project", func(r *Run) *string { return &r.Project }),
		str("model", func(r *Run) *string { return &r.Model }),
		str("dataset", func(r *Run) *string { return &r.Dataset }),
		str("technique", func(r *Run) *string { return &r.Technique }),
		str("device", func(r *Run) *string { return &r.Device }),
		str("status", func(r *Run) *string { return &r.Status }),
		{"finished", func(r Row) string {
			if r.Finished.IsZero() {
				return ""
			}
			return r.Finished.Format(time.RFC3339Nano)
		}, func(r *Run, s string) (err error) {
			r.Finished, err = time.Parse(time.RFC3339Nano, s)
			return err
		}},
		{"samples", func(r Row) string { return strconv.Itoa(r.Metrics.Samples) }, func(r *Run, s string) (err error) {
			r.Metrics.Samples, err = strconv.Atoi(s)
			return err
		}},
		{"correct", func(r Row) string { return strconv.Itoa(r.Metrics.Correct) }, func(r *Run, s string) (err error) {
			r.Metrics.Correct, err = strconv.Atoi(s)
			return err
		}},
		num("accuracy", func(r *Run) *float64 { return &r.Metrics.Accuracy }),
		num("top5", func(r *Run) *float64 { return &r.Metrics.Top5 }),
		num("latency_min_ms", func(r *Run) *float64 { return &r.Metrics.Latency.Min }),
		num("latency_p50_ms", func(r *Run) *float64 { return &r.Metrics.Latency.P50 }),
		num("latency_p90_ms", func(r *Run) *float64 { return &r.Metrics.Latency.P90 }),
		num("latency_p99_ms", func(r *Run) *float64 { return &r.Metrics.Latency.P99 }),
		num("latency_mean_ms", func(r *Run) *float64 { return &r.Metrics.Latency.Mean }),
		num("load_ms", func(r *Run) *float64 { return &r.Metrics.LoadMS }),
		num("throughput", func(r *Run) *float64 { return &r.Metrics.Throughput }),
		integer("model_bytes", func(r *Run) *int64 { return &r.Metrics.ModelBytes }),
		integer("packed_bytes", func(r *Run) *int64 { return &r.Metrics.PackedBytes }),
		integer("gzip_bytes", func(r *Run) *int64 { return &r.Metrics.GzipBytes }),
		integer("params", func(r *Run) *int64 { return &r.Metrics.Params }),
		integer("nonzero_params", func(r *Run) *int64 { return &r.Metrics.NonZeroParams }),
		integer("macs", func(r *Run) *int64 { return &r.Metrics.MACs }),
		integer("arena_bytes", func(r *Run) *int64 { return &r.Metrics.ArenaBytes }),
		integer("peak_mem_bytes", func(r *Run) *int64 { return &r.Metrics.PeakMemBytes }),
		num("agreement", func(r *Run) *float64 { return &r.Metrics.Agreement }),
		num("max_diff", func(r *Run) *float64 { return &r.Metrics.MaxDiff }),
		derived("baseline_id", func(r Row) string { return r.BaselineID }),
		dnum("delta_accuracy", func(d *Delta) float64 { return d.Accuracy }),
		dnum("latency_p50_ratio", func(d *Delta) float64 { return d.LatencyRatio }),
		dnum("size_ratio", func(d *Delta) float64 { return d.SizeRatio }),
		dnum("memory_ratio", func(d *Delta) float64 { return d.MemoryRatio }),
		derived("pareto_size", func(r Row) string { return strconv.FormatBool(r.ParetoSize) }),
		derived("pareto_latency", func(r Row) string { return strconv.FormatBool(r.ParetoLatency) }),
	}
}

// WriteCSV writes one row per run with a header; numbers are raw (bytes, milliseconds, 0..1
// shares) so that spreadsheets can compute with them. Classes, confusion matrices and latency
// samples do not fit a flat table and are left to WriteJSON.
func (r *Report) WriteCSV(w io.Writer) error {
	fields := csvFields()
	cw := csv.NewWriter(w)
	rec := make([]string, len(fields))
	for i, f := range fields {
		rec[i] = f.name
	}
	if err := cw.Write(rec); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	for _, row := range r.rows {
		for i, f := range fields {
			rec[i] = f.get(row)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("report: write CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	return nil
}

// ReadCSV reads runs back from a CSV written by WriteCSV, or any CSV whose header names some of
// its columns (the "id" column is required). Unknown and derived columns are ignored; empty cells
// leave the zero value. Errors are *ParseError values naming the line.
func ReadCSV(r io.Reader) ([]Run, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below with a clearer message
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ParseError{Line: 1, Err: errors.New("empty file: want a header line naming the columns, starting with id")}
	}
	if err != nil {
		return nil, csvError(err)
	}
	byName := map[string]csvField{}
	for _, f := range csvFields() {
		if f.set != nil {
			byName[f.name] = f
		}
	}
	set := make([]func(*Run, string) error, len(header))
	hasID := false
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // spreadsheets like a BOM
		header[i] = h
		if f, ok := byName[h]; ok {
			set[i] = f.set
		}
		hasID = hasID || h == "id"
	}
	if !hasID {
		return nil, &ParseError{Line: 1, Err: fmt.Errorf("header %q has no id column", strings.Join(header, ","))}
	}
	var runs []Run
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return runs, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, &ParseError{Line: line, Err: fmt.Errorf("%d fields, but the header has %d", len(rec), len(header))}
		}
		var run Run
		for i, cell := range rec {
			if set[i] == nil || cell == "" {
				continue
			}
			if err := set[i](&run, cell); err != nil {
				return nil, &ParseError{Line: line, Err: fmt.Errorf("column %s: %w", header[i], err)}
			}
		}
		runs = append(runs, run)
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ParseError{Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("report: read CSV: %w", err)
}

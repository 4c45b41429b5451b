package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// report is everything the program prints; -json writes it as it is.
type report struct {
	Meta  meta         `json:"meta"`
	Cases []caseResult `json:"cases"`
	Loads []loadResult `json:"load"`
}

type meta struct {
	ProfileTop    int     `json:"-"`
	GoVersion     string  `json:"go_version"`
	ORTVersion    string  `json:"ort_version,omitempty"`
	NodeVersion   string  `json:"node_version,omitempty"`
	OS            string  `json:"os"`
	Arch          string  `json:"arch"`
	CPUs          int     `json:"cpus"`
	Threads       int     `json:"threads"`
	Rounds        int     `json:"rounds"`
	ORT           bool    `json:"ort"`
	LoadAvgBefore float64 `json:"loadavg_before"`
	LoadAvgAfter  float64 `json:"loadavg_after"`
	Method        string  `json:"method"`
	ORTOptions    string  `json:"ort_options"`
}

// latency summarises per-call latencies, in milliseconds (nearest-rank percentiles).
type latency struct {
	Calls         int     `json:"calls"`
	Min           float64 `json:"min_ms"`
	P50           float64 `json:"p50_ms"`
	P90           float64 `json:"p90_ms"`
	P99           float64 `json:"p99_ms"`
	Mean          float64 `json:"mean_ms"`
	SamplesPerSec float64 `json:"samples_per_s"` // batch / p50
}

type caseResult struct {
	Model      string   `json:"model"`
	Path       string   `json:"path"`
	Data       string   `json:"data"`
	Batch      int      `json:"batch"`
	Full       bool     `json:"full_batch"` // the whole dataset in one call
	MACs       int64    `json:"macs"`       // per call, as our engine counts them
	ArenaBytes int      `json:"arena_bytes"`
	Ours       latency  `json:"ours"`
	ORT        *latency `json:"ort,omitempty"`
	// OursCPU and ORTCPU summarise process CPU time per call, which machine load inflates far
	// less than wall time; RatioCPU is ours / ORT on the CPU-time medians.
	OursCPU  latency  `json:"ours_cpu"`
	ORTCPU   *latency `json:"ort_cpu,omitempty"`
	RatioCPU float64  `json:"ratio_cpu,omitempty"`
	// RatioP50 is ours p50 / ORT p50: below 1, our engine is faster.
	RatioP50 float64 `json:"ratio_p50,omitempty"`
	RatioP90 float64 `json:"ratio_p90,omitempty"`
	// Agreement of the two engines' outputs over the whole dataset (every sample, same inputs).
	Agreement *agreement `json:"agreement,omitempty"`
	// Profile is our engine's time per plan step, costliest first (with -profile).
	Profile []stepShare `json:"profile,omitempty"`
}

type agreement struct {
	// MaxAbsDiff is the largest |ours - ORT| over every element of every output where both
	// are finite; NonFinite counts element pairs where they are not both finite and not equal.
	MaxAbsDiff float64 `json:"max_abs_diff"`
	NonFinite  int     `json:"non_finite,omitempty"`
	// Top1Agree of Top1Rows rows of the first output have the same argmax (0 rows when the
	// first output is not [rows, classes]).
	Top1Agree int    `json:"top1_agree"`
	Top1Rows  int    `json:"top1_rows"`
	Error     string `json:"error,omitempty"` // outputs that cannot be compared, and why
}

type loadResult struct {
	Model  string   `json:"model"`
	OursMS float64  `json:"ours_ms"`          // median over rounds: read + compile
	ORTMS  *float64 `json:"ort_ms,omitempty"` // median over node runs: InferenceSession.create
}

func summarise(d []time.Duration, batch int) latency {
	if len(d) == 0 {
		return latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	l := latency{
		Calls: len(s), Min: ms(s[0]), P50: ms(percentile(s, 50)), P90: ms(percentile(s, 90)),
		P99: ms(percentile(s, 99)), Mean: ms(sum / time.Duration(len(s))),
	}
	if l.P50 > 0 {
		l.SamplesPerSec = float64(batch) / (l.P50 / 1e3)
	}
	return l
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return percentile(s, 50)
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func msRound(d time.Duration) float64 { return math.Round(ms(d)*1e4) / 1e4 }

// compare measures how closely two engines' outputs agree.
func compare(ours, ort []output) *agreement {
	a := &agreement{}
	if len(ours) != len(ort) {
		a.Error = fmt.Sprintf("our engine gives %d outputs, onnxruntime %d", len(ours), len(ort))
		return a
	}
	for i := range ours {
		o, r := ours[i], ort[i]
		if !slices.Equal(o.Dims, r.Dims) || len(o.Values) != len(r.Values) {
			a.Error = fmt.Sprintf("output %s: ours is %v, onnxruntime's %v", o.Name, o.Dims, r.Dims)
			return a
		}
		for j, v := range o.Values {
			w := r.Values[j]
			switch {
			case v == w:
			case math.IsNaN(v) || math.IsNaN(w) || math.IsInf(v, 0) || math.IsInf(w, 0):
				a.NonFinite++
			default:
				a.MaxAbsDiff = max(a.MaxAbsDiff, math.Abs(v-w))
			}
		}
	}
	if o, r := ours[0], ort[0]; len(o.Dims) >= 2 && o.Dims[0] > 0 {
		rows := o.Dims[0]
		cols := len(o.Values) / rows
		if cols > 1 {
			a.Top1Rows = rows
			for k := range rows {
				if argmax(o.Values[k*cols:(k+1)*cols]) == argmax(r.Values[k*cols:(k+1)*cols]) {
					a.Top1Agree++
				}
			}
		}
	}
	return a
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// results turns the measurements into the report's rows.
func (b *bench) results() []caseResult {
	var out []caseResult
	for _, mb := range b.models {
		for _, c := range mb.cases {
			r := caseResult{
				Model: mb.name, Path: mb.path, Data: mb.data, Batch: c.batch, Full: c.full,
				MACs: c.macs, ArenaBytes: c.arena, Ours: summarise(c.ours, c.batch), Profile: c.profile,
				OursCPU: summarise(c.oursCPU, c.batch),
			}
			if b.ort != nil {
				l := summarise(c.ort, c.batch)
				r.ORT = &l
				lc := summarise(c.ortCPU, c.batch)
				r.ORTCPU = &lc
				if lc.P50 > 0 {
					r.RatioCPU = r.OursCPU.P50 / lc.P50
				}
				if l.P50 > 0 {
					r.RatioP50 = r.Ours.P50 / l.P50
				}
				if l.P90 > 0 {
					r.RatioP90 = r.Ours.P90 / l.P90
				}
				r.Agreement = compare(c.oursOut, c.ortOut)
			}
			out = append(out, r)
		}
	}
	return out
}

func (b *bench) loads() []loadResult {
	var out []loadResult
	for _, mb := range b.models {
		l := loadResult{Model: mb.name, OursMS: ms(median(mb.oursLoad))}
		var ortLoads []time.Duration
		for _, c := range mb.cases {
			ortLoads = append(ortLoads, c.ortLoad...)
		}
		if len(ortLoads) > 0 {
			v := ms(median(ortLoads))
			l.ORTMS = &v
		}
		out = append(out, l)
	}
	return out
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// fmtMS prints milliseconds with about 3 significant digits (4 decimals below 0.1 ms).
func fmtMS(v float64) string {
	switch {
	case v < 0.1:
		return fmt.Sprintf("%.4f ms", v)
	case v < 10:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.2f ms", v)
	case v < 1000:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func fmtDiff(a *agreement) (diff, top1 string) {
	if a == nil {
		return "-", "-"
	}
	if a.Error != "" {
		return "mismatch", "-"
	}
	diff = fmt.Sprintf("%.1e", a.MaxAbsDiff)
	if a.MaxAbsDiff == 0 {
		diff = "0"
	}
	if a.NonFinite > 0 {
		diff += fmt.Sprintf(" +%d non-finite", a.NonFinite)
	}
	top1 = "-"
	if a.Top1Rows > 0 {
		top1 = fmt.Sprintf("%d/%d", a.Top1Agree, a.Top1Rows)
	}
	return diff, top1
}

// rows is the main table.
func (r *report) rows() [][]string {
	rows := [][]string{{"model", "batch", "ours p50", "ort p50", "ratio", "ours cpu", "ort cpu", "cpu ratio", "ours p90", "ort p90", "max|diff|", "top1 agree"}}
	for _, c := range r.Cases {
		ortP50, ortP90, ratio, ortCPU, cpuRatio := "-", "-", "-", "-", "-"
		if c.ORT != nil {
			ortP50, ortP90 = fmtMS(c.ORT.P50), fmtMS(c.ORT.P90)
			ratio = fmt.Sprintf("%.2fx", c.RatioP50)
		}
		if c.ORTCPU != nil && c.RatioCPU > 0 {
			ortCPU, cpuRatio = fmtMS(c.ORTCPU.P50), fmt.Sprintf("%.2fx", c.RatioCPU)
		}
		diff, top1 := fmtDiff(c.Agreement)
		batch := fmt.Sprint(c.Batch)
		rows = append(rows, []string{c.Model, batch, fmtMS(c.Ours.P50), ortP50, ratio, fmtMS(c.OursCPU.P50), ortCPU, cpuRatio, fmtMS(c.Ours.P90), ortP90, diff, top1})
	}
	return rows
}

func (r *report) loadRows() [][]string {
	rows := [][]string{{"model", "ours load", "ort load"}}
	for _, l := range r.Loads {
		o := "-"
		if l.ORTMS != nil {
			o = fmtMS(*l.ORTMS)
		}
		rows = append(rows, []string{l.Model, fmtMS(l.OursMS), o})
	}
	return rows
}

func (r *report) header() []string {
	m := r.Meta
	engines := "tinyml (pure Go)"
	if m.ORT {
		engines += fmt.Sprintf(" vs onnxruntime %s (onnxruntime-node, node %s)", m.ORTVersion, m.NodeVersion)
	}
	lines := []string{
		fmt.Sprintf("%s; %d thread(s) each; %s, %s/%s, %d CPUs, load average %.2f before, %.2f after",
			engines, m.Threads, m.GoVersion, m.OS, m.Arch, m.CPUs, m.LoadAvgBefore, m.LoadAvgAfter),
		"Latency per call (all samples of the batch), median (p50) and p90 over the timed calls, measured in-process by each engine " +
			"around its own run call: Go time.Now around Session.Run; node process.hrtime.bigint around `await session.run` " +
			"(the node binding's overhead included: it is part of what onnxruntime costs a node user). " +
			"cpu = the process's CPU time per call (Go: CLOCK_PROCESS_CPUTIME_ID; node: process.cpuUsage), which a loaded machine inflates far less than wall time; " +
			"its resolution is about a microsecond, so it is coarse for the fastest calls.",
	}
	if len(r.Cases) > 0 {
		lines = append(lines, fmt.Sprintf("Timed calls per case and engine: %s; split over %d round(s) that alternate models and which engine goes first; warm-up calls untimed.",
			callCounts(r.Cases), m.Rounds))
	}
	return lines
}

func callCounts(cases []caseResult) string {
	seen := map[int]bool{}
	var parts []string
	for _, c := range cases {
		if !seen[c.Ours.Calls] {
			seen[c.Ours.Calls] = true
			parts = append(parts, fmt.Sprintf("%d at batch %d", c.Ours.Calls, c.Batch))
		}
	}
	return strings.Join(parts, ", ")
}

func (r *report) footer() []string {
	var lines []string
	if r.Meta.ORT {
		lines = append(lines,
			"ratio = ours p50 / ort p50 (below 1: ours is faster). max|diff| and top1 agree compare both engines' outputs over every sample of the dataset, at that batch size.")
		var slower []string
		for _, c := range r.Cases {
			if c.RatioP50 > 1 {
				slower = append(slower, fmt.Sprintf("%s batch %d (%.2fx)", c.Model, c.Batch, c.RatioP50))
			}
		}
		if len(slower) > 0 {
			lines = append(lines, "Ours is slower than onnxruntime at: "+strings.Join(slower, ", ")+".")
		} else if len(r.Cases) > 0 {
			lines = append(lines, "Ours is at least as fast as onnxruntime in every case.")
		}
	}
	if r.Meta.LoadAvgBefore > float64(r.Meta.CPUs) || r.Meta.LoadAvgAfter > float64(r.Meta.CPUs) {
		lines = append(lines, fmt.Sprintf("Note: the machine was busy (load average above its %d CPUs): absolute times are inflated; the rounds spread the noise over both engines.", r.Meta.CPUs))
	}
	return lines
}

func (r *report) writeText(w io.Writer) error {
	var b strings.Builder
	for _, l := range r.header() {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")
	writeAligned(&b, r.rows())
	b.WriteString("\n")
	for _, l := range r.footer() {
		b.WriteString(l + "\n")
	}
	b.WriteString("\nModel load (read + compile; ORT: InferenceSession.create), median:\n")
	writeAligned(&b, r.loadRows())
	for _, c := range r.Cases {
		if rows := r.profileRows(c); rows != nil {
			fmt.Fprintf(&b, "\nOurs, %s batch %d: costliest steps (Session.EnableProfile in a separate pass; per step the fastest of 5 sub-passes)\n", c.Model, c.Batch)
			writeAligned(&b, rows)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeAligned writes a table with the first column left-aligned and the others right-aligned.
func writeAligned(b *strings.Builder, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	for _, row := range rows {
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-len([]rune(cell)))
			if i == 0 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString("  " + pad + cell)
			}
		}
		b.WriteString("\n")
	}
}

func (r *report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	for _, l := range r.header() {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")
	writeMarkdownTable(&b, r.rows())
	b.WriteString("\n")
	for _, l := range r.footer() {
		b.WriteString(l + "\n")
	}
	b.WriteString("\nModel load (read + compile; ORT: `InferenceSession.create`), median:\n\n")
	writeMarkdownTable(&b, r.loadRows())
	for _, c := range r.Cases {
		if rows := r.profileRows(c); rows != nil {
			fmt.Fprintf(&b, "\nOurs, %s batch %d: costliest steps (`Session.EnableProfile` in a separate pass; per step the fastest of 5 sub-passes)\n\n", c.Model, c.Batch)
			writeMarkdownTable(&b, rows)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMarkdownTable(b *strings.Builder, rows [][]string) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for i, row := range rows {
		cells := make([]string, len(row))
		for j, c := range row {
			cells[j] = esc(c)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		if i == 0 {
			seps := make([]string, len(row))
			for j := range seps {
				seps[j] = "---:"
			}
			seps[0] = "---"
			b.WriteString("|" + strings.Join(seps, "|") + "|\n")
		}
	}
}

// profileRows is a case's costliest steps, nil without -profile.
func (r *report) profileRows(c caseResult) [][]string {
	if len(c.Profile) == 0 || r.Meta.ProfileTop == 0 {
		return nil
	}
	rows := [][]string{{"node", "op", "share", "per call", "MACs", "GMAC/s"}}
	for _, p := range c.Profile[:min(len(c.Profile), r.Meta.ProfileTop)] {
		op := p.Op
		if len(p.Fused) > 0 {
			op += "+" + strings.Join(p.Fused, "+")
		}
		gmac := "-"
		if p.GMACPerS > 0 {
			gmac = fmt.Sprintf("%.2f", p.GMACPerS)
		}
		rows = append(rows, []string{p.Node, op, fmt.Sprintf("%.1f%%", 100*p.Share), fmtMS(p.MSPerCall), fmt.Sprint(p.MACs), gmac})
	}
	return rows
}

package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Constraints are the limits a run must meet to be recommended; a zero field sets no limit. A
// device's limits map onto them directly: its storage to MaxSizeBytes, its RAM to MaxMemoryBytes.
type Constraints struct {
	// Device, when set, admits only runs measured on that device: latency measured elsewhere
	// says little about it.
	Device          string  `json:"device,omitempty"`
	MaxSizeBytes    int64   `json:"max_size_bytes,omitempty"` // compared with Metrics.SizeBytes
	MaxLatencyP50MS float64 `json:"max_latency_p50_ms,omitempty"`
	MaxLatencyP90MS float64 `json:"max_latency_p90_ms,omitempty"`
	MaxMemoryBytes  int64   `json:"max_memory_bytes,omitempty"` // compared with Metrics.MemoryBytes
	MinAccuracy     float64 `json:"min_accuracy,omitempty"`     // 0..1
}

// String lists the limits for a person, e.g. "size ≤ 256 KiB, latency p50 ≤ 10 ms".
func (c Constraints) String() string {
	var s []string
	if c.Device != "" {
		s = append(s, "device "+c.Device)
	}
	if c.MaxSizeBytes > 0 {
		s = append(s, "size ≤ "+fmtBytes(c.MaxSizeBytes))
	}
	if c.MaxLatencyP50MS > 0 {
		s = append(s, "latency p50 ≤ "+fmtMS(c.MaxLatencyP50MS))
	}
	if c.MaxLatencyP90MS > 0 {
		s = append(s, "latency p90 ≤ "+fmtMS(c.MaxLatencyP90MS))
	}
	if c.MaxMemoryBytes > 0 {
		s = append(s, "memory ≤ "+fmtBytes(c.MaxMemoryBytes))
	}
	if c.MinAccuracy > 0 {
		s = append(s, "accuracy ≥ "+fmtPct(c.MinAccuracy))
	}
	if len(s) == 0 {
		return "no limits"
	}
	return strings.Join(s, ", ")
}

// Recommendation is the run to use under some constraints, and why every other run lost.
type Recommendation struct {
	Constraints Constraints `json:"constraints"`
	// Best is nil when no run fits.
	Best *Run   `json:"best,omitempty"`
	Why  string `json:"why,omitempty"`
	// Closest is, when nothing fits, the finished run that misses the limits by the smallest
	// relative margin.
	Closest *Verdict `json:"closest,omitempty"`
	// Others holds every run but Best, the closest contenders first: runs that fit but scored
	// lower, then runs that miss a limit (smallest miss first), then runs on another device or
	// not finished. Ties keep table order.
	Others  []Verdict `json:"others"`
	Summary string    `json:"summary"`
}

// Verdict says why a run was not recommended.
type Verdict struct {
	RunID string `json:"run_id"`
	Label string `json:"label"`
	// Fits is true for runs that met every limit but lost on score.
	Fits    bool     `json:"fits"`
	Reasons []string `json:"reasons"`

	overshoot float64 // largest relative excess over a limit; +Inf when not a candidate
}

// violation is one limit a run misses.
type violation struct {
	name string  // "size", "latency p50", ...
	text string  // "size 412 KiB > limit 256 KiB (61% over)"
	over float64 // relative excess; +Inf when not measured
}

func overMax(name string, v, limit float64, show func(float64) string) (violation, bool) {
	switch {
	case limit <= 0 || (v > 0 && v <= limit):
		return violation{}, false
	case v <= 0:
		return violation{name, name + " not measured", math.Inf(1)}, true
	}
	over := v/limit - 1
	return violation{name, fmt.Sprintf("%s %s > limit %s (%.0f%% over)", name, show(v), show(limit), 100*over), over}, true
}

// violations lists the limits r misses.
func (c Constraints) violations(r Run) []violation {
	m := r.Metrics
	bytes := func(v float64) string { return fmtBytes(int64(v)) }
	var vs []violation
	if v, ok := overMax("size", float64(m.SizeBytes()), float64(c.MaxSizeBytes), bytes); ok {
		vs = append(vs, v)
	}
	if v, ok := overMax("latency p50", m.Latency.P50, c.MaxLatencyP50MS, fmtMS); ok {
		vs = append(vs, v)
	}
	if v, ok := overMax("latency p90", m.Latency.P90, c.MaxLatencyP90MS, fmtMS); ok {
		vs = append(vs, v)
	}
	if v, ok := overMax("memory", float64(m.MemoryBytes()), float64(c.MaxMemoryBytes), bytes); ok {
		vs = append(vs, v)
	}
	if c.MinAccuracy > 0 {
		switch {
		case !m.hasAccuracy():
			vs = append(vs, violation{"accuracy", "accuracy not measured", math.Inf(1)})
		case m.Accuracy < c.MinAccuracy:
			short := 1 - m.Accuracy/c.MinAccuracy
			vs = append(vs, violation{"accuracy", fmt.Sprintf("accuracy %s < minimum %s (%.0f%% short)",
				fmtPct(m.Accuracy), fmtPct(c.MinAccuracy), 100*short), short})
		}
	}
	return vs
}

// Recommend picks the run to use under c.
//
// Scoring: a run competes when it finished, ran on c.Device (if set) and meets every limit.
// Among those the most accurate wins; equal accuracy is broken by lower p50 latency, then by
// smaller size, then by run ID so the answer is stable. When nothing fits, Closest is the
// competing run whose worst miss is the smallest relative to its limit.
func Recommend(runs []Run, c Constraints) Recommendation {
	sorted := clean(runs)
	sortRuns(sorted)

	rec := Recommendation{Constraints: c}
	verdicts := make([]Verdict, len(sorted))
	var fits []int
	ruledOut := map[string]int{} // limit name → competing runs it excluded
	candidates := 0
	for i, r := range sorted {
		v := Verdict{RunID: r.ID, Label: r.Label(), overshoot: math.Inf(1)}
		switch {
		case !r.Done():
			v.Reasons = []string{"status " + r.Status}
		case c.Device != "" && r.Device != c.Device:
			v.Reasons = []string{fmt.Sprintf("measured on %s, not %s", r.Device, c.Device)}
		default:
			candidates++
			vs := c.violations(r)
			v.overshoot = 0
			for _, x := range vs {
				v.Reasons = append(v.Reasons, x.text)
				v.overshoot = max(v.overshoot, x.over)
				ruledOut[x.name]++
			}
			if len(vs) == 0 {
				v.Fits = true
				fits = append(fits, i)
			}
		}
		verdicts[i] = v
	}

	if len(fits) == 0 {
		rec.Summary = noFitSummary(c, verdicts, ruledOut, candidates, &rec)
		rec.Others = byRelevance(verdicts)
		return rec
	}

	best := slices.MinFunc(fits, func(i, j int) int { return compareScore(sorted[i], sorted[j]) })
	b := sorted[best]
	rec.Best = &b
	for _, i := range fits {
		if i != best {
			verdicts[i].Reasons = []string{lostTo(sorted[i], b)}
		}
	}
	rec.Others = byRelevance(slices.Delete(verdicts, best, best+1))
	rec.Why = whyBest(b, sorted, fits, c)
	rec.Summary = fmt.Sprintf("Use %s: accuracy %s, size %s, latency p50 %s, memory %s.",
		b.Label(), fmtPct(b.Metrics.Accuracy), fmtBytes(b.Metrics.SizeBytes()),
		fmtMS(b.Metrics.Latency.P50), fmtBytes(b.Metrics.MemoryBytes()))
	return rec
}

// unknownLast makes an unmeasured (zero) cost compare as the worst.
func unknownLast(v float64) float64 {
	if v <= 0 {
		return math.Inf(1)
	}
	return v
}

// compareScore orders a before b when a is the better recommendation.
func compareScore(a, b Run) int {
	return cmp.Or(
		cmp.Compare(b.Metrics.Accuracy, a.Metrics.Accuracy),
		cmp.Compare(unknownLast(a.Metrics.Latency.P50), unknownLast(b.Metrics.Latency.P50)),
		cmp.Compare(unknownLast(float64(a.Metrics.SizeBytes())), unknownLast(float64(b.Metrics.SizeBytes()))),
		strings.Compare(a.ID, b.ID),
	)
}

// lostTo explains, by the first score criterion that differs, why r lost to best.
func lostTo(r, best Run) string {
	rm, bm := r.Metrics, best.Metrics
	switch {
	case rm.Accuracy != bm.Accuracy:
		return fmt.Sprintf("fits, but accuracy %s < %s of %s", fmtPct(rm.Accuracy), fmtPct(bm.Accuracy), best.Label())
	case unknownLast(rm.Latency.P50) != unknownLast(bm.Latency.P50):
		return fmt.Sprintf("fits with the same accuracy, but latency p50 %s > %s of %s", fmtMS(rm.Latency.P50), fmtMS(bm.Latency.P50), best.Label())
	case unknownLast(float64(rm.SizeBytes())) != unknownLast(float64(bm.SizeBytes())):
		return fmt.Sprintf("fits with the same accuracy and latency, but size %s > %s of %s", fmtBytes(rm.SizeBytes()), fmtBytes(bm.SizeBytes()), best.Label())
	}
	return fmt.Sprintf("fits and ties with %s; the run ID breaks the tie", best.Label())
}

func whyBest(b Run, sorted []Run, fits []int, c Constraints) string {
	var s strings.Builder
	fmt.Fprintf(&s, "Highest accuracy (%s) of the %d run(s) that meet %s", fmtPct(b.Metrics.Accuracy), len(fits), c)
	ties := 0
	for _, i := range fits {
		if sorted[i].ID != b.ID && sorted[i].Metrics.Accuracy == b.Metrics.Accuracy {
			ties++
		}
	}
	if ties > 0 {
		fmt.Fprintf(&s, "; tied on accuracy with %d other run(s) and chosen for its lower p50 latency, then size", ties)
	}
	s.WriteString(".")
	return s.String()
}

func noFitSummary(c Constraints, verdicts []Verdict, ruledOut map[string]int, candidates int, rec *Recommendation) string {
	if candidates == 0 {
		if c.Device != "" {
			return fmt.Sprintf("No finished run on device %s to recommend.", c.Device)
		}
		return "No finished run to recommend."
	}
	var s strings.Builder
	fmt.Fprintf(&s, "No run fits %s.", c)
	closest := -1
	for i, v := range verdicts {
		if !math.IsInf(v.overshoot, 1) && (closest < 0 || v.overshoot < verdicts[closest].overshoot) {
			closest = i
		}
	}
	if closest >= 0 {
		v := verdicts[closest]
		rec.Closest = &v
		fmt.Fprintf(&s, " Closest: %s (%s).", v.Label, strings.Join(v.Reasons, "; "))
	}
	names := make([]string, 0, len(ruledOut))
	for n := range ruledOut {
		names = append(names, n)
	}
	// The limit that excludes the most runs is the one to relax first.
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(ruledOut[b], ruledOut[a]), strings.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, ruledOut[n])
	}
	fmt.Fprintf(&s, " Runs ruled out of %d by each limit: %s.", candidates, strings.Join(parts, ", "))
	return s.String()
}

// byRelevance orders verdicts as Recommendation.Others documents.
func byRelevance(vs []Verdict) []Verdict {
	rank := func(v Verdict) int {
		switch {
		case v.Fits:
			return 0
		case !math.IsInf(v.overshoot, 1):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(vs, func(a, b Verdict) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 || rank(a) != 1 {
			return c
		}
		return cmp.Compare(a.overshoot, b.overshoot)
	})
	return vs
}

package tinyml

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/tinymlaas/tinyml/internal/worker"
	"github.com/tinymlaas/tinyml/report"
)

// Report builds the comparison report of a project's runs (see package report for its tables,
// Pareto fronts, recommendation and plots).
func (s *Studio) Report(ctx context.Context, project string, opts ...report.Option) (*report.Report, error) {
	p, err := s.Project(ctx, project)
	if err != nil {
		return nil, err
	}
	runs, err := s.Runs(ctx, RunFilter{Project: p.ID})
	if err != nil {
		return nil, err
	}
	opts = append([]report.Option{report.WithTitle("Project " + p.Name)}, opts...)
	return report.New(s.ReportRuns(runs), opts...), nil
}

// ReportRuns converts runs into the report's plain values, adding each finished run's
// per-call latencies from its volume for the distribution plots.
func (s *Studio) ReportRuns(runs []*Run) []report.Run {
	out := make([]report.Run, 0, len(runs))
	for _, r := range runs {
		rr := report.Run{
			ID: r.ID, Project: r.Project, Model: modelName(r.Model), Dataset: modelName(r.Dataset),
			Technique: r.Technique, Device: r.Device, Status: string(r.Status),
		}
		if st := r.Step(StepInference); st.Finished != nil {
			rr.Finished = *st.Finished
		}
		if m := r.Metrics; m != nil {
			rm := report.Metrics{
				Samples: m.Samples, Correct: m.Correct, Accuracy: m.Accuracy, Top5: m.Top5,
				Latency: report.Latency{Min: m.Latency.Min, P50: m.Latency.P50, P90: m.Latency.P90, P99: m.Latency.P99, Mean: m.Latency.Mean},
				LoadMS:  m.LoadMS, Throughput: m.Throughput,
				ModelBytes: m.ModelBytes, PackedBytes: m.PackedBytes, GzipBytes: m.GzipBytes,
				Params: m.Params, NonZeroParams: m.NonZeroParams, MACs: m.MACs,
				ArenaBytes: m.ArenaBytes, PeakMemBytes: m.PeakMemoryBytes, Confusion: m.Confusion,
			}
			if m.Agreement != nil {
				rm.Agreement = *m.Agreement
			}
			if m.MaxDiff != nil {
				rm.MaxDiff = *m.MaxDiff
			}
			if b, err := os.ReadFile(filepath.Join(s.runDir(r.ID), string(StepInference), worker.LatenciesFile)); err == nil {
				_ = json.Unmarshal(b, &rm.LatencySamplesMS)
			}
			rr.Metrics = rm
		}
		out = append(out, rr)
	}
	return out
}

// modelName shortens a reference to what a reader recognises: the file or repository name.
func modelName(ref string) string {
	if ref == "" {
		return ""
	}
	base := filepath.Base(ref)
	if ext := filepath.Ext(base); ext != "" && len(base) > len(ext) {
		base = base[:len(base)-len(ext)]
	}
	return base
}

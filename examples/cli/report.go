package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/report"
	"github.com/tinymlaas/tinyml/tinyml"
)

func (a *app) reportCmd() *cobra.Command {
	var project, out, formats string
	var c report.Constraints
	var maxSize, maxMem string
	cmd := &cobra.Command{
		Use:   "report --project P --out DIR [--format html,md,csv,json]",
		Short: "Write a project's comparison report: table, Pareto fronts, recommendation, plots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "project", "out"); err != nil {
				return err
			}
			fs, err := report.ParseFormats(formats)
			if err != nil {
				return err
			}
			if maxSize != "" {
				if c.MaxSizeBytes, err = parseSize(maxSize); err != nil {
					return fmt.Errorf("--max-size: %w", err)
				}
			}
			if maxMem != "" {
				if c.MaxMemoryBytes, err = parseSize(maxMem); err != nil {
					return fmt.Errorf("--max-memory: %w", err)
				}
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			rep, err := s.Report(cmd.Context(), project, report.WithConstraints(c))
			if err != nil {
				return err
			}
			files, err := rep.WriteDir(cmd.Context(), out, fs...)
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintln(a.stdout, f)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&project, "project", "", "project name or ID")
	f.StringVar(&out, "out", "", "output directory")
	f.StringVar(&formats, "format", "html,md,csv,json", "comma-separated: html, md, csv, json, png")
	f.StringVar(&maxSize, "max-size", "", "recommendation constraint: installed model size, e.g. 256KiB")
	f.StringVar(&maxMem, "max-memory", "", "recommendation constraint: memory, e.g. 64MiB")
	f.Float64Var(&c.MaxLatencyP50MS, "max-latency", 0, "recommendation constraint: p50 latency in ms")
	f.Float64Var(&c.MinAccuracy, "min-accuracy", 0, "recommendation constraint: accuracy 0..1")
	f.StringVar(&c.Device, "device", "", "recommend for this device only")
	return cmd
}

// writeProjectReport writes DIR/report.html for a project (the demo's report).
func writeProjectReport(cmd *cobra.Command, s *tinyml.Studio, dir, project string) (string, error) {
	rep, err := s.Report(cmd.Context(), project)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "report.html")
	tmp, err := os.CreateTemp(dir, ".report-*.html")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := rep.WriteHTML(tmp); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

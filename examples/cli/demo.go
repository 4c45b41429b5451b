package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/examples/cli/assets"
	"github.com/tinymlaas/tinyml/tinyml"
)

// demoTechniques are the compressions the demo compares, from lossless to aggressive.
func demoTechniques() []string {
	return tinyml.DemoTechniques()
}

func (a *app) demoCmd() *cobra.Command {
	var runnerName string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "demo [--runner local|docker]",
		Short: "The main job with zero set-up: bundled models × compression techniques on a device, compared",
		Long: `Run the whole pipeline on bundled models (an MLP and a CNN trained on scikit-learn's digits):
one run per compression technique, each compiled, installed on a device and evaluated there, then
a comparison table and DIR/report.html.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if runnerName != "local" {
				return usageError{fmt.Sprintf("--runner %q is not available in this build (local)", runnerName)}
			}
			s, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			files := filepath.Join(a.dir, "demo-assets")
			if err := writeAssets(files); err != nil {
				return err
			}
			name := "demo-" + time.Now().Format("20060102-150405")
			if _, err := s.CreateProject(ctx, name); err != nil {
				return err
			}
			runs, err := s.CreateRuns(ctx, name, tinyml.Matrix{
				Models:       []string{filepath.Join(files, "digits_mlp.onnx"), filepath.Join(files, "digits_cnn.onnx")},
				Dataset:      filepath.Join(files, "digits_test.csv"),
				Calib:        filepath.Join(files, "digits_calib.csv"),
				Compressions: demoTechniques(),
			})
			if err != nil {
				return err
			}
			ids := make([]string, len(runs))
			for i, r := range runs {
				ids[i] = r.ID
			}
			if !asJSON {
				fmt.Fprintf(a.stderr, "project %s: %d runs (2 models × %d techniques) on device local\n", name, len(runs), len(demoTechniques()))
			}
			runErr := a.execute(ctx, s, ids)
			done, err := s.Runs(ctx, tinyml.RunFilter{Project: name})
			if err != nil {
				return err
			}
			reportPath, repErr := writeProjectReport(cmd, s, a.dir, name)
			if asJSON {
				if err := a.printJSON(done); err != nil {
					return err
				}
				return errors.Join(runErr, repErr)
			}
			fmt.Fprintln(a.stdout)
			if err := a.runTable(done); err != nil {
				return err
			}
			if repErr == nil {
				fmt.Fprintf(a.stdout, "\nreport: %s\n", reportPath)
			}
			return errors.Join(runErr, repErr)
		},
	}
	cmd.Flags().StringVar(&runnerName, "runner", "local", "where compile jobs run: local (child processes) or docker")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runs as `run list --json` does")
	return cmd
}

// writeAssets copies the bundled models and data out of the binary.
func writeAssets(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(assets.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
}

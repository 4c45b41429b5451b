package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/device"
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
			var opts []tinyml.Option
			switch runnerName {
			case "local":
			case "docker":
				opts = append(opts, tinyml.WithDocker())
			default:
				return usageError{fmt.Sprintf("--runner %q: use local or docker", runnerName)}
			}
			s, err := a.open(ctx, opts...)
			if err != nil {
				return err
			}
			defer s.Close()
			dev := "local"
			if runnerName == "docker" {
				if dev, err = a.demoDockerBoard(ctx, s, asJSON); err != nil {
					return err
				}
			}
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
				Devices:      []string{dev},
			})
			if err != nil {
				return err
			}
			ids := make([]string, len(runs))
			for i, r := range runs {
				ids[i] = r.ID
			}
			if !asJSON {
				fmt.Fprintf(a.stderr, "project %s: %d runs (2 models × %d techniques) on device %s\n", name, len(runs), len(demoTechniques()), dev)
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

// demoBoard is the docker device `demo --runner docker` installs on: a container limited to
// one CPU and 256 MiB, standing in for a small board.
var demoBoard = device.Profile{Name: "board", Kind: device.Docker, CPUs: 1, MemoryBytes: 256 << 20}

// demoDockerBoard checks the engine, prepares the worker image (building a static worker the
// first time when this program is not one) and registers the demo's docker device if absent.
func (a *app) demoDockerBoard(ctx context.Context, s *tinyml.Studio, quiet bool) (string, error) {
	r, err := s.DockerRunner()
	if err != nil {
		return "", err
	}
	if err := r.Ping(ctx); err != nil {
		return "", err
	}
	if !quiet {
		fmt.Fprintln(a.stderr, "docker: preparing the worker image (the first time, this may build a static worker)")
	}
	start := time.Now()
	img, err := r.DefaultImage(ctx)
	if err != nil {
		return "", err
	}
	if !quiet {
		fmt.Fprintf(a.stderr, "docker: worker image %s ready in %s\n", img, time.Since(start).Round(time.Millisecond))
	}
	d, err := s.Device(ctx, demoBoard.Name)
	switch {
	case errors.Is(err, tinyml.ErrNotFound):
		if d, err = s.AddDevice(ctx, demoBoard); err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	}
	if d.Kind != device.Docker {
		return "", fmt.Errorf("a device named %s exists and is %s, not docker; the docker demo installs on %s", d.Name, d.Kind, d.Name)
	}
	return d.Name, nil
}

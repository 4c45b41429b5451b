package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/tinyml"
)

func (a *app) exportCmd() *cobra.Command {
	var o tinyml.ExportOptions
	var run string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export --run RUN (--format docker-archive|oci --out PATH | --push REF)",
		Short: "Export a run's inference image (worker + compiled model) as a tarball, an OCI layout or a registry push",
		Long: `Export a run's inference image: the static worker and the run's compiled model, made without
a registry or a Dockerfile. Its entrypoint evaluates a mounted dataset:

  docker load -i PATH
  docker run --rm --pull never -v DATA:/data:ro IMAGE --dataset /data/FILE

prints the metrics JSON (accuracy, correct, samples, latency_ms, ...). The image reference is
printed last.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "run"); err != nil {
				return err
			}
			switch {
			case o.Push != "" && o.Path != "":
				return usageError{"export: give --out PATH or --push REF, not both"}
			case o.Push == "" && o.Path == "":
				return usageError{"export needs --out PATH (with --format docker-archive or oci) or --push REGISTRY/REPOSITORY[:TAG]"}
			case o.Push != "" && cmd.Flags().Changed("format"):
				return usageError{"export: --format names a file format; a push needs none"}
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			exp, err := s.Export(cmd.Context(), run, o)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(exp)
			}
			switch exp.Format {
			case tinyml.ExportDockerArchive:
				fmt.Fprintf(a.stdout, "docker-archive %s (%s layer); load it with: docker load -i %s\n", exp.Path, humanBytes(exp.Bytes), exp.Path)
			case tinyml.ExportOCI:
				fmt.Fprintf(a.stdout, "OCI layout %s (%s layer, manifest %s)\n", exp.Path, humanBytes(exp.Bytes), exp.Digest)
			default:
				fmt.Fprintf(a.stdout, "pushed (%s layer)\n", humanBytes(exp.Bytes))
			}
			fmt.Fprintln(a.stdout, exp.Ref)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&run, "run", "", "the run whose compiled model the image holds")
	f.StringVar(&o.Format, "format", tinyml.ExportDockerArchive, "docker-archive (a tarball for docker load) or oci (an OCI layout directory)")
	f.StringVar(&o.Path, "out", "", "the tarball or layout directory to write")
	f.StringVar(&o.Push, "push", "", "push to this registry reference instead (REGISTRY/REPOSITORY[:TAG])")
	f.StringVar(&o.Tag, "tag", "", "the image's name in the archive or layout (default tinyml/RUN:HASH)")
	f.StringVar(&o.Arch, "arch", "", "the image's architecture (default: the run's device's)")
	f.BoolVar(&asJSON, "json", false, "print one JSON document: ref, digest, format, path, bytes")
	return cmd
}

// Command tinyml is the SDK's command line: evaluate and compress models, and run the studio's
// projects of model × compression × device runs from a terminal or a script.
//
// Every command that reads something takes --json and then prints one JSON document on stdout
// and nothing else there; errors go to stderr in one line, and the exit code is non-zero.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/tinyml"
)

func main() {
	tinyml.WorkerMain() // this binary also executes pipeline steps as the studio's child processes
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tinyml: "+oneLine(err))
		os.Exit(1)
	}
}

// app carries what every command shares: where output goes and the global flags.
type app struct {
	stdout, stderr io.Writer
	dir            string
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "tinyml",
		Short:         "TinyML-as-a-Service: compress, install and benchmark ONNX models on small devices",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	def := os.Getenv("TINYML_DIR")
	if def == "" {
		def = "./tinyml-data"
	}
	root.PersistentFlags().StringVar(&a.dir, "dir", def, "the studio's data directory (store and run volumes); default $TINYML_DIR or ./tinyml-data")
	root.AddCommand(a.demoCmd(), a.evalCmd(), a.predictCmd(), a.projectCmd(), a.deviceCmd(), a.runCmd(), a.reportCmd(), a.historyCmd(), a.compressCmd(), a.catalogueCmd(), a.exportCmd(), a.hfCmd())
	return root
}

// printJSON writes one JSON document on stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// oneLine keeps an error message to one line, as scripts read stderr line by line.
func oneLine(err error) string {
	var ue usageError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func required(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			return usageError{fmt.Sprintf("%s needs --%s (see tinyml %s --help)", cmd.CommandPath(), n, cmd.Name())}
		}
	}
	return nil
}

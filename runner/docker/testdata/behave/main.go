// Command behave is the conformance suite's job program for container runners: its image's
// entrypoint, doing what $RUNNERTEST_BEHAVIOUR says (see runner/runnertest.Behave).
package main

import (
	"os"

	"github.com/tinymlaas/tinyml/runner/runnertest"
)

func main() { os.Exit(runnertest.Behave()) }

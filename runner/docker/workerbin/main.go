// Command workerbin is the studio's step worker and nothing else: the program the Docker runner
// puts in its images and the ssh installer copies to boards when the running program cannot be
// its own worker (it is not statically linked, e.g. under `go run` or `go test`). Build it with
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o tinyml-worker github.com/tinymlaas/tinyml/runner/docker/workerbin
//
// It takes the worker's arguments: `step NAME` (a pipeline step, with $TINYML_VOLUME set) or
// `[infer] --model M --dataset D` (print the metrics JSON).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tinymlaas/tinyml/tinyml"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := tinyml.RunWorker(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

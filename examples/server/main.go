// Command server is the HTTP studio: the TinyML-as-a-Service API (projects, devices, runs and
// their steps, reports, artifacts, Server-Sent Events, an OpenAPI description) and a dashboard,
// over one studio data directory.
//
//	server --addr 127.0.0.1:8080 --dir ./tinyml-data --token SECRET
//
// Every /api request needs "Authorization: Bearer SECRET"; the dashboard at / takes ?token=SECRET
// once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tinymlaas/tinyml/tinyml"
)

func main() {
	tinyml.WorkerMain() // pipeline steps run as children of this same binary
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address HOST:PORT")
	dir := flag.String("dir", envOr("TINYML_DIR", "./tinyml-data"), "studio data directory")
	token := flag.String("token", os.Getenv("TINYML_TOKEN"), "bearer token every /api request must carry (or $TINYML_TOKEN)")
	flag.Parse()
	if *token == "" {
		return errors.New("give --token (or $TINYML_TOKEN): the API refuses requests without it")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	studio, err := tinyml.Open(ctx, *dir, tinyml.WithLogger(log))
	if err != nil {
		return err
	}
	defer studio.Close()
	uploads := filepath.Join(*dir, "uploads")
	if err := os.MkdirAll(uploads, 0o755); err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           (&server{studio: studio, token: *token, uploads: uploads, log: log}).handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("tinyml studio listening", "addr", *addr, "dir", *dir)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

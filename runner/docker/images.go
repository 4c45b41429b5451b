package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/tinymlaas/tinyml/internal/image"
)

// WorkerRepository is the repository of the runner's worker images; the tag is a hash of the
// worker binary, so an image is assembled and loaded only when the binary changes.
const WorkerRepository = "tinyml-worker"

// DefaultImage returns the worker image, assembling and loading it into the engine first if it
// is not there: the image a studio's compile jobs run when a run names no toolchain. Its
// entrypoint is the worker, its arguments `step NAME`.
func (r *Runner) DefaultImage(ctx context.Context) (string, error) {
	arch, err := r.Arch(ctx)
	if err != nil {
		return "", err
	}
	bin, err := r.WorkerBinary(ctx, arch)
	if err != nil {
		return "", err
	}
	spec := image.Worker(bin, arch)
	ref, err := spec.Ref(WorkerRepository)
	if err != nil {
		return "", err
	}
	if err := r.EnsureImage(ctx, ref, spec.Build); err != nil {
		return "", err
	}
	return ref, nil
}

// WorkerBinary returns a statically linked worker for arch (see WithWorkerBinary).
func (r *Runner) WorkerBinary(ctx context.Context, arch string) (string, error) {
	return r.workers.Binary(ctx, arch)
}

// Arch is the engine's architecture as a GOARCH name (asked once).
func (r *Runner) Arch(ctx context.Context) (string, error) {
	r.mu.Lock()
	arch := r.arch
	r.mu.Unlock()
	if arch != "" {
		return arch, nil
	}
	v, err := r.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", r.classify("version", err)
	}
	arch = v.Arch
	r.mu.Lock()
	r.arch = arch
	r.mu.Unlock()
	return arch, nil
}

// HasImage reports whether the engine has the image.
func (r *Runner) HasImage(ctx context.Context, ref string) (bool, error) {
	_, err := r.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, r.classify("image inspect", err)
}

type loadCall struct {
	done chan struct{}
	err  error
}

// EnsureImage makes sure the engine has ref: when it does not, build assembles the image and
// the runner loads it (concurrent calls for the same reference share one load).
func (r *Runner) EnsureImage(ctx context.Context, ref string, build func() (v1.Image, error)) error {
	for {
		has, err := r.HasImage(ctx, ref)
		if err != nil || has {
			return err
		}
		r.mu.Lock()
		if c, busy := r.loading[ref]; busy {
			r.mu.Unlock()
			select {
			case <-c.done:
				if c.err != nil {
					return c.err
				}
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		c := &loadCall{done: make(chan struct{})}
		r.loading[ref] = c
		r.mu.Unlock()
		c.err = func() error {
			img, err := build()
			if err != nil {
				return fmt.Errorf("assemble image %s: %w", ref, err)
			}
			return r.Load(ctx, ref, img)
		}()
		r.mu.Lock()
		delete(r.loading, ref)
		r.mu.Unlock()
		close(c.done)
		return c.err
	}
}

// Load loads img into the engine under the tag ref, as `docker load` of a docker-archive would,
// streaming the archive to the Engine API.
func (r *Runner) Load(ctx context.Context, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	resp, err := r.cli.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		return r.classify("load "+ref, err)
	}
	defer resp.Close()
	dec := json.NewDecoder(resp)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("load image %s: %w", ref, err)
		}
		if m.Error != nil {
			return fmt.Errorf("load image %s: the engine refused it: %s", ref, strings.TrimSpace(m.Error.Message))
		}
	}
	has, err := r.HasImage(ctx, ref)
	if err != nil {
		return err
	}
	if !has {
		return fmt.Errorf("load image %s: the engine accepted the archive but has no such image afterwards", ref)
	}
	return nil
}

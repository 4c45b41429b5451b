package tinyml

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tinymlaas/tinyml/internal/image"
)

// Export formats.
const (
	ExportDockerArchive = "docker-archive" // a tarball `docker load -i` accepts
	ExportOCI           = "oci"            // an OCI image layout directory
	ExportRegistry      = "registry"       // a push (ExportOptions.Push)
)

// ExportOptions say where a run's inference image goes: a file (Format, Path) or a registry
// (Push).
type ExportOptions struct {
	// Format is docker-archive (default) or oci; Path is the tarball, or the layout directory.
	Format string
	Path   string
	// Push is a registry reference (REGISTRY/REPOSITORY[:TAG]) to push to instead; credentials
	// come from the Docker config (~/.docker/config.json), as for docker push.
	Push string
	// Tag names the image in an archive or layout (default tinyml/<run>:<hash>).
	Tag string
	// Arch is the image's architecture (default: the run's device's, else this host's).
	Arch string
}

// Exported describes an exported image.
type Exported struct {
	// Ref is the image's reference: the tag in an archive or layout, or the pushed
	// REPOSITORY:TAG@DIGEST.
	Ref    string `json:"ref"`
	Digest string `json:"digest"` // the manifest's digest
	Format string `json:"format"`
	Path   string `json:"path,omitempty"`
	Bytes  int64  `json:"bytes"` // the layer, compressed
}

// Export writes a run's inference image — the static worker and the run's compiled model, its
// entrypoint evaluating a mounted dataset — as a docker-archive tarball, an OCI layout, or a
// push to a registry. The image runs as
//
//	docker run --rm -v DATA:/data:ro IMAGE --dataset /data/FILE
//
// and prints the metrics JSON (accuracy, correct, samples, latency_ms, ...) on stdout.
func (s *Studio) Export(ctx context.Context, id string, o ExportOptions) (Exported, error) {
	r, err := s.Run(ctx, id)
	if err != nil {
		return Exported{}, err
	}
	if st := r.Step(StepCompile).Status; st != Generated {
		return Exported{}, fmt.Errorf("export run %s: its compile step is %s; the image holds the compiled model, so run the pipeline first", id, st)
	}
	a, err := s.artifact(r)
	if err != nil {
		return Exported{}, fmt.Errorf("export run %s: %w", id, err)
	}
	arch := o.Arch
	if arch == "" {
		if d, err := s.Device(ctx, r.Device); err == nil && d.Arch != "" {
			arch = d.Arch
		} else {
			arch = runtime.GOARCH
		}
	}
	format := o.Format
	switch {
	case o.Push != "":
		format = ExportRegistry
	case format == "":
		format = ExportDockerArchive
	case format != ExportDockerArchive && format != ExportOCI:
		return Exported{}, fmt.Errorf("export format %q: use docker-archive or oci (or push to a registry)", format)
	}
	if format != ExportRegistry && o.Path == "" {
		return Exported{}, fmt.Errorf("export run %s: give the output path", id)
	}
	bin, err := s.workerBinary(ctx, arch)
	if err != nil {
		return Exported{}, fmt.Errorf("export run %s: %w", id, err)
	}
	spec := image.Inference(bin, arch, filepath.Join(a.Volume, a.Path))
	spec.Compress = true
	spec.Labels[image.LabelRun] = r.ID
	tag := o.Tag
	if tag == "" {
		if tag, err = spec.Ref("tinyml/" + strings.ToLower(strings.ReplaceAll(r.ID, "_", "-"))); err != nil {
			return Exported{}, err
		}
	}
	img, err := spec.Build()
	if err != nil {
		return Exported{}, fmt.Errorf("export run %s: assemble the image: %w", id, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return Exported{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return Exported{}, err
	}
	size, _ := layers[0].Size()
	out := Exported{Ref: tag, Digest: digest.String(), Format: format, Path: o.Path, Bytes: size}
	switch format {
	case ExportDockerArchive:
		t, err := name.NewTag(tag)
		if err != nil {
			return Exported{}, fmt.Errorf("export tag %q: %w", tag, err)
		}
		if err := writeAtomically(o.Path, func(tmp string) error { return tarball.WriteToFile(tmp, t, img) }); err != nil {
			return Exported{}, fmt.Errorf("export run %s: %w", id, err)
		}
	case ExportOCI:
		if _, err := name.ParseReference(tag); err != nil {
			return Exported{}, fmt.Errorf("export tag %q: %w", tag, err)
		}
		p, err := layout.FromPath(o.Path)
		if err != nil {
			if p, err = layout.Write(o.Path, empty.Index); err != nil {
				return Exported{}, fmt.Errorf("export run %s: OCI layout %s: %w", id, o.Path, err)
			}
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
			return Exported{}, fmt.Errorf("export run %s: %w", id, err)
		}
	case ExportRegistry:
		ref, err := name.ParseReference(o.Push)
		if err != nil {
			return Exported{}, fmt.Errorf("push reference %q: %w (write REGISTRY/REPOSITORY[:TAG])", o.Push, err)
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return Exported{}, fmt.Errorf("export run %s: push to %s: %w", id, ref.Context().RegistryStr(), err)
		}
		out.Ref = ref.Name() + "@" + digest.String()
		if _, ok := ref.(name.Digest); ok {
			out.Ref = ref.Context().Name() + "@" + digest.String()
		}
	}
	return out, nil
}

// writeAtomically lets write produce a temporary file beside path, then renames it into place.
func writeAtomically(path string, write func(tmp string) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Package image assembles the container images the studio runs and exports, with no base image,
// no Dockerfile and no registry: one tar layer holding a statically linked worker binary (and,
// for an inference image, the compiled model), and a config naming the OS, architecture and
// entrypoint. The result is a go-containerregistry v1.Image, which the Docker runner loads
// through the Engine API and the studio exports as a docker-archive tarball, an OCI layout or a
// push to a registry.
//
// Images are reproducible: file times and the creation time are the Unix epoch, so the same
// inputs give the same digests, and Ref names an image by a hash of its inputs that is cheap to
// compute (no layer is built to know whether the engine already has it).
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths inside the images this package makes.
const (
	// WorkerPath is the worker binary, the images' entrypoint.
	WorkerPath = "/tinyml-worker"
	// ModelPath is an inference image's compiled model, where the worker's `infer` looks by
	// default, so `docker run IMAGE --dataset /data/FILE` needs no --model.
	ModelPath = "/model/model.onnx"
	// WorkerEnv makes a program that calls tinyml.WorkerMain act as the worker.
	WorkerEnv = "TINYML_WORKER=1"
	// User is the unprivileged user the images run as unless a runner says otherwise.
	User = "65534:65534"
)

// Label keys set on every image this package makes.
const (
	LabelKind  = "io.tinyml.image"  // "worker" or "inference"
	LabelModel = "io.tinyml.model"  // an inference image's model file name
	LabelRun   = "io.tinyml.run"    // the run an exported image came from, when known
	LabelSHA   = "io.tinyml.inputs" // the hash the reference's tag is made from
)

// File is one file of the layer: Data, or the content of the host file Source.
type File struct {
	Path   string // absolute path in the image
	Mode   int64  // permission bits; 0 means 0o644
	Source string
	Data   []byte
}

// Spec describes an image.
type Spec struct {
	Arch       string // GOARCH of the binaries (amd64, arm64, arm, ...)
	Files      []File
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Labels     map[string]string
	// Compress gzips the layer (smaller exports and pushes). Loading into a local engine is
	// faster uncompressed, and the image ID (the config's digest) is the same either way.
	Compress bool
}

// Worker is the image every container job of the built-in toolchain runs: the worker binary as
// entrypoint, arguments `step NAME`.
func Worker(workerBin, arch string) Spec {
	return Spec{
		Arch:       arch,
		Files:      []File{{Path: WorkerPath, Mode: 0o755, Source: workerBin}},
		Entrypoint: []string{WorkerPath},
		Env:        []string{WorkerEnv},
		User:       User,
		WorkingDir: "/",
		Labels:     map[string]string{LabelKind: "worker"},
	}
}

// Inference is a run's inference image: the worker plus the compiled model (ONNX, or a packed
// artifact) at ModelPath, whatever its name was. As a job it runs `step inference`; run by
// hand it evaluates a mounted dataset: `docker run --rm -v DIR:/data:ro IMAGE --dataset /data/FILE`.
func Inference(workerBin, arch, model string) Spec {
	s := Worker(workerBin, arch)
	s.Files = append(s.Files, File{Path: ModelPath, Mode: 0o644, Source: model})
	s.Labels = map[string]string{LabelKind: "inference", LabelModel: filepath.Base(model)}
	return s
}

// Ref names the image by repository and a hash of the spec's inputs (file contents, config):
// "REPO:<16 hex>". Equal inputs give equal references, so a runner asks the engine whether it
// has the reference before building anything.
func (s Spec) Ref(repo string) (string, error) {
	h, err := s.inputHash()
	if err != nil {
		return "", err
	}
	return repo + ":" + h[:16], nil
}

func (s Spec) inputHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "tinyml-image v1\narch %s\nentry %q\ncmd %q\nenv %q\nuser %s\nwd %s\ncompress %v\n",
		s.Arch, s.Entrypoint, s.Cmd, s.Env, s.User, s.WorkingDir, s.Compress)
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "label %q=%q\n", k, s.Labels[k])
	}
	for _, f := range s.Files {
		sum, err := f.sum()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "file %s %o %s\n", f.Path, f.mode(), sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (f File) mode() int64 {
	if f.Mode == 0 {
		return 0o644
	}
	return f.Mode
}

func (f File) sum() (string, error) {
	if f.Source == "" {
		s := sha256.Sum256(f.Data)
		return hex.EncodeToString(s[:]), nil
	}
	fh, err := os.Open(f.Source)
	if err != nil {
		return "", fmt.Errorf("image file %s: %w", f.Path, err)
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("image file %s: %w", f.Path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Build assembles the image: one layer with the spec's files (and their parent directories),
// an OCI manifest and a config with the OS (linux), architecture, entrypoint and environment.
func (s Spec) Build() (v1.Image, error) {
	if s.Arch == "" {
		return nil, fmt.Errorf("image: no architecture given")
	}
	layerTar, err := s.tarLayer()
	if err != nil {
		return nil, err
	}
	diffID, _, err := v1.SHA256(bytes.NewReader(layerTar))
	if err != nil {
		return nil, err
	}
	var layer v1.Layer
	if s.Compress {
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(layerTar)
		if err := zw.Close(); err != nil {
			return nil, err
		}
		layer = &gzipLayer{Layer: static.NewLayer(gz.Bytes(), types.OCILayer), raw: layerTar, diffID: diffID}
	} else {
		layer = static.NewLayer(layerTar, types.OCIUncompressedLayer)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: time.Unix(0, 0).UTC()},
			CreatedBy: "tinyml image assembly (go-containerregistry)",
			Comment:   s.Labels[LabelKind],
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", s.Arch
	if s.Arch == "arm" {
		cf.Variant = "v7"
	}
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config = v1.Config{
		Entrypoint: s.Entrypoint, Cmd: s.Cmd, Env: s.Env, User: s.User, WorkingDir: s.WorkingDir, Labels: s.Labels,
	}
	return mutate.ConfigFile(img, cf)
}

// gzipLayer is a static gzip layer whose uncompressed form and diff ID are already known.
type gzipLayer struct {
	v1.Layer
	raw    []byte
	diffID v1.Hash
}

func (l *gzipLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *gzipLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.raw)), nil
}

// tarLayer writes the files, with their parent directories, in path order.
func (s Spec) tarLayer() ([]byte, error) {
	epoch := time.Unix(0, 0).UTC()
	files := slices.Clone(s.Files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			return nil, fmt.Errorf("image file %q: not a file path", f.Path)
		}
		var parents []string
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			parents = append(parents, d)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			d := parents[i]
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		data := f.Data
		if f.Source != "" {
			b, err := os.ReadFile(f.Source)
			if err != nil {
				return nil, fmt.Errorf("image file %s: %w", p, err)
			}
			data = b
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: f.mode(), Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is a comparison of runs, ready to be written in several formats. It is immutable once
// made, so one Report can be written concurrently.
type Report struct {
	cfg  config
	rows []Row
	rec  Recommendation
}

type config struct {
	title       string
	generatedAt time.Time
	constraints Constraints
	thresholds  Thresholds
}

// Option configures a Report or a history page.
type Option func(*config)

// WithTitle sets the page title (default "TinyML comparison report").
func WithTitle(title string) Option { return func(c *config) { c.title = title } }

// WithGeneratedAt sets the time printed on the report (default: now); fix it for reproducible output.
func WithGeneratedAt(t time.Time) Option { return func(c *config) { c.generatedAt = t } }

// WithConstraints sets the limits the recommendation must meet (default: none, so the most
// accurate run is recommended).
func WithConstraints(cs Constraints) Option { return func(c *config) { c.constraints = cs } }

// WithThresholds sets the regression thresholds a history page applies (default
// [DefaultThresholds]).
func WithThresholds(t Thresholds) Option { return func(c *config) { c.thresholds = t } }

func newConfig(title string, opts []Option) config {
	c := config{title: title, thresholds: DefaultThresholds()}
	for _, o := range opts {
		o(&c)
	}
	if c.generatedAt.IsZero() {
		c.generatedAt = time.Now()
	}
	return c
}

// New compares runs. Runs that failed or have not finished are kept in the table but left out
// of fronts, plots and the recommendation.
func New(runs []Run, opts ...Option) *Report {
	cfg := newConfig("TinyML comparison report", opts)
	return &Report{cfg: cfg, rows: buildRows(runs), rec: Recommend(runs, cfg.constraints)}
}

// Rows returns the comparison table, sorted by model, dataset, technique (baseline first) and device.
func (r *Report) Rows() []Row { return slices.Clone(r.rows) }

// Recommendation returns the run to use under the report's constraints.
func (r *Report) Recommendation() Recommendation { return r.rec }

// Format is an output format of [Report.WriteDir].
type Format string

// The formats WriteDir knows. PNG writes every plot to plots/NAME.png.
const (
	FormatHTML     Format = "html"
	FormatMarkdown Format = "md"
	FormatCSV      Format = "csv"
	FormatJSON     Format = "json"
	FormatPNG      Format = "png"
)

// AllFormats is what WriteDir writes when given no format.
func AllFormats() []Format {
	return []Format{FormatHTML, FormatMarkdown, FormatCSV, FormatJSON, FormatPNG}
}

// ErrUnknownFormat is wrapped by ParseFormats for a name it does not know.
var ErrUnknownFormat = errors.New("unknown report format")

// ParseFormats parses a comma-separated list such as "html,md,csv,json". "markdown" is accepted
// for "md"; duplicates are dropped.
func ParseFormats(s string) ([]Format, error) {
	var fs []Format
	for name := range strings.SplitSeq(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		f := Format(name)
		if name == "markdown" {
			f = FormatMarkdown
		}
		if !slices.Contains(AllFormats(), f) {
			return nil, fmt.Errorf("%w %q: use a comma-separated list of html, md, csv, json, png", ErrUnknownFormat, name)
		}
		if !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("%w: empty list: use a comma-separated list of html, md, csv, json, png", ErrUnknownFormat)
	}
	return fs, nil
}

// WriteDir writes the report into dir as report.html, report.md, report.csv, report.json and
// plots/*.png (all of them when formats is empty) and returns the paths it wrote. Files are
// replaced atomically, so a server may serve them while they are rewritten.
func (r *Report) WriteDir(ctx context.Context, dir string, formats ...Format) ([]string, error) {
	if len(formats) == 0 {
		formats = AllFormats()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var plots []Plot
	if slices.Contains(formats, FormatHTML) || slices.Contains(formats, FormatPNG) {
		var err error
		if plots, err = r.Plots(ctx); err != nil {
			return nil, err
		}
	}
	var written []string
	write := func(name string, fill func(w io.Writer) error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := fill(&buf); err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		if err := writeFileAtomic(path, buf.Bytes()); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		written = append(written, path)
		return nil
	}
	for _, f := range formats {
		var err error
		switch f {
		case FormatHTML:
			err = write("report.html", func(w io.Writer) error { return r.writeHTML(w, plots) })
		case FormatMarkdown:
			var links []Plot
			if slices.Contains(formats, FormatPNG) {
				links = plots
			}
			err = write("report.md", func(w io.Writer) error { return r.writeMarkdown(w, links) })
		case FormatCSV:
			err = write("report.csv", r.WriteCSV)
		case FormatJSON:
			err = write("report.json", r.WriteJSON)
		case FormatPNG:
			if err = os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
				return written, fmt.Errorf("report: %w", err)
			}
			for _, p := range plots {
				if err = write(filepath.Join("plots", p.Name+".png"), func(w io.Writer) error {
					_, err := w.Write(p.PNG)
					return err
				}); err != nil {
					break
				}
			}
		default:
			err = fmt.Errorf("%w %q", ErrUnknownFormat, f)
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// writeFileAtomic writes data to a temporary file next to path and renames it into place.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

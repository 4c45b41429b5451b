package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

// browser starts headless Chromium for one test. Without Chromium the test is skipped, except in
// CI (CI=true), where a missing browser is a broken machine.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		path, err = exec.LookPath("/usr/bin/chromium")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found (install Debian's chromium package): %v", err)
		}
		t.Skipf("chromium not found, skipping the browser check: %v", err)
	}
	profile := t.TempDir() // made before the browser so that it is removed after the browser exits
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1366, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// Start the browser with the long-lived context; a timeout on it would end the browser.
	require.NoError(t, chromedp.Do(ctx))
	return ctx
}

// open writes html to a file and loads it: file:// is how people open a report.
func open(t *testing.T, ctx context.Context, html []byte) context.Context {
	t.Helper()
	path := filepath.Join(t.TempDir(), "page.html")
	require.NoError(t, os.WriteFile(path, html, 0o644))
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS("table.sortable tbody tr"))))
	return tctx
}

func eval[T any](t *testing.T, ctx context.Context, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	require.NoError(t, err, js)
	return v
}

// requireImagesLoaded waits for every <img> to decode and checks that each has pixels.
func requireImagesLoaded(t *testing.T, ctx context.Context, want int) {
	t.Helper()
	widths := eval[[]int](t, ctx, `Promise.all(Array.from(document.images).map(function (img) {
		return img.decode().then(function () { return img.naturalWidth; }, function () { return 0; });
	}))`, chromedp.EvalAwaitPromise)
	require.Len(t, widths, want)
	for i, w := range widths {
		require.Positive(t, w, "image %d did not load", i)
	}
	external := eval[int](t, ctx, `document.querySelectorAll("link[href], script[src], img:not([src^='data:'])").length`)
	require.Zero(t, external, "the page must not load anything from elsewhere")
}

// screenshot saves the whole page to $TINYML_SCREENSHOT_DIR, or a temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")))
	dir := os.Getenv("TINYML_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// column returns the sort values (data-v) or, with text, the text of one table column.
func column(t *testing.T, ctx context.Context, table string, col int, text bool) []string {
	t.Helper()
	js := `Array.from(document.querySelectorAll("#` + table + ` tbody tr")).map(function (tr) {
		var td = tr.cells[` + strconv.Itoa(col) + `]; return ` + map[bool]string{true: "td.textContent.trim()", false: `td.dataset.v || ""`}[text] + `; })`
	return eval[[]string](t, ctx, js)
}

func headerIndex(t *testing.T, ctx context.Context, table, name string) int {
	t.Helper()
	heads := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#`+table+` thead th")).map(function (th) { return th.textContent.trim(); })`)
	i := slices.Index(heads, name)
	require.GreaterOrEqual(t, i, 0, "no column %q in %v", name, heads)
	return i
}

func TestHTMLReportInChromium(t *testing.T) {
	ctx := browser(t)
	tests := []struct {
		name, screenshot string
		runs             []report.Run
		constraints      report.Constraints
		best             string
	}{
		{"sample project", "report.png", sampleRuns(),
			report.Constraints{Device: "pi-zero-2w", MaxSizeBytes: 300 << 10, MaxLatencyP50MS: 3},
			"mnist-cnn · prune(sparsity=0.5) | int8-static @ pi-zero-2w"},
		{"1000 runs", "report-1000.png", syntheticRuns(1000),
			report.Constraints{Device: "board-03", MaxSizeBytes: 1 << 20, MaxLatencyP50MS: 1},
			"model-04 · int8-static @ board-03"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := report.New(tt.runs, report.WithTitle("Which compression for my board?"), report.WithConstraints(tt.constraints))
			var html bytes.Buffer
			require.NoError(t, rep.WriteHTML(&html))
			images := bytes.Count(html.Bytes(), []byte(`<img src="data:image/png;base64,`))
			require.Positive(t, images)
			page := open(t, ctx, html.Bytes())

			require.Equal(t, len(tt.runs), eval[int](t, page, `document.querySelectorAll("#runs tbody tr").length`), "one row per run")
			require.Equal(t, tt.best, eval[string](t, page, `document.querySelector("#summary .headline").textContent.trim()`))
			require.Equal(t, rep.Recommendation().Best.ID, eval[string](t, page, `document.querySelector("#runs tr.best").dataset.id`))

			// Numbers sort numerically, missing values last, and a second click reverses.
			acc := headerIndex(t, page, "runs", "Accuracy")
			btn := chromedp.CSS("#runs thead th:nth-child(" + strconv.Itoa(acc+1) + ") button")
			require.NoError(t, chromedp.Do(page, chromedp.Click(btn)))
			require.Equal(t, "ascending", eval[string](t, page, `document.querySelectorAll("#runs thead th")[`+strconv.Itoa(acc)+`].getAttribute("aria-sort")`))
			requireSorted(t, column(t, page, "runs", acc, false), 1)
			require.NoError(t, chromedp.Do(page, chromedp.Click(btn)))
			requireSorted(t, column(t, page, "runs", acc, false), -1)

			// Text sorts alphabetically.
			model := headerIndex(t, page, "runs", "Model")
			require.NoError(t, chromedp.Do(page, chromedp.Click(chromedp.CSS("#runs thead th:nth-child("+strconv.Itoa(model+1)+") button"))))
			models := column(t, page, "runs", model, true)
			require.True(t, slices.IsSorted(models), "models after sorting: %v", models)

			requireImagesLoaded(t, page, images)
			require.NoError(t, chromedp.Do(page, chromedp.Click(chromedp.CSS("#summary summary"))))
			screenshot(t, page, tt.screenshot)
		})
	}
}

// requireSorted checks numeric sort values: ascending (dir 1) or descending (-1), blanks last.
func requireSorted(t *testing.T, vals []string, dir int) {
	t.Helper()
	var nums []float64
	blank := false
	for _, v := range vals {
		if v == "" {
			blank = true
			continue
		}
		require.False(t, blank, "a missing value sorted before a number: %v", vals)
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err)
		nums = append(nums, float64(dir)*f)
	}
	require.NotEmpty(t, nums)
	require.True(t, slices.IsSorted(nums), "not sorted (dir %d): %v", dir, vals)
}

func TestHistoryHTMLInChromium(t *testing.T) {
	ctx := browser(t)
	var html bytes.Buffer
	require.NoError(t, report.WriteHistoryHTML(&html, historyEntries()))
	page := open(t, ctx, html.Bytes())
	require.Equal(t, 6, eval[int](t, page, `document.querySelectorAll("#latest tbody tr").length`), "one row per series")
	p50 := headerIndex(t, page, "latest", "× p50")
	require.NoError(t, chromedp.Do(page, chromedp.Click(chromedp.CSS("#latest thead th:nth-child("+strconv.Itoa(p50+1)+") button"))))
	requireSorted(t, column(t, page, "latest", p50, false), 1)
	requireImagesLoaded(t, page, 2)
	screenshot(t, page, "history.png")
}

package tinyml_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/hf/hftest"
	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/tinyml"
)

// digitsRow is a row as Hugging Face datasets writes a tabular split: everything optional.
type digitsRow struct {
	Label  *int64     `parquet:"label,optional"`
	Pixels []*float32 `parquet:"pixels,optional,list"`
}

// digitsParquet converts testdata's CSV test set into a Hub-style parquet split.
func digitsParquet(t *testing.T) []byte {
	t.Helper()
	f, err := os.Open(testenv.RepoFile(t, "testdata/data/digits_test.csv"))
	require.NoError(t, err)
	defer f.Close()
	var rows []digitsRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ",")
		label, err := strconv.ParseInt(fields[0], 10, 64)
		require.NoError(t, err)
		row := digitsRow{Label: &label}
		for _, s := range fields[1:] {
			v, err := strconv.ParseFloat(s, 32)
			require.NoError(t, err)
			x := float32(v)
			row.Pixels = append(row.Pixels, &x)
		}
		rows = append(rows, row)
	}
	require.NoError(t, sc.Err())
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[digitsRow](&buf, parquet.KeyValueMetadata("huggingface",
		`{"info": {"features": {"label": {"names": ["0","1","2","3","4","5","6","7","8","9"], "_type": "ClassLabel"}, "pixels": {"feature": {"dtype": "float32", "_type": "Value"}, "_type": "Sequence"}}}}`))
	_, err = w.Write(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func digitsHub(t *testing.T) *hftest.Hub {
	t.Helper()
	model, err := os.ReadFile(testenv.RepoFile(t, "testdata/models/digits_cnn.onnx"))
	require.NoError(t, err)
	test := digitsParquet(t)
	return hftest.New(t,
		hftest.Repo{ID: "tinyml/digits-cnn", Files: map[string][]byte{
			"digits_cnn.onnx": model, "README.md": []byte("# digits CNN\n"), ".gitattributes": []byte("*.onnx filter=lfs diff=lfs merge=lfs -text\n"),
		}},
		hftest.Repo{ID: "tinyml/digits", Type: "dataset", Files: map[string][]byte{
			"data/test-00000-of-00001.parquet": test, "data/train-00000-of-00001.parquet": test, "README.md": []byte("# digits\n"),
		}},
		hftest.Repo{ID: "acme/gated-cnn", Gated: "manual", Readers: []string{"hf_alice"}, Files: map[string][]byte{"model.onnx": model}},
	)
}

func TestARunFetchesItsModelAndDatasetFromTheHub(t *testing.T) {
	ctx := context.Background()
	hub := digitsHub(t)
	cache := t.TempDir()
	s := openStudio(t, tinyml.WithHub(tinyml.HubOptions{Endpoint: hub.URL(), CacheDir: cache, NoToken: true}))
	_, err := s.CreateProject(ctx, "hub")
	require.NoError(t, err)
	runs, err := s.CreateRuns(ctx, "hub", tinyml.Matrix{Models: []string{"hf://tinyml/digits-cnn"}, Dataset: "hf://datasets/tinyml/digits@main"})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	r := done[0]
	require.Equal(t, tinyml.Generated, r.Status, r.Err())
	require.Equal(t, 360, r.Metrics.Samples)
	require.InDelta(t, 0.983, r.Metrics.Accuracy, 0.01, "the same accuracy as from the CSV")

	// The files are in the configured cache, in huggingface_hub's layout.
	commit := hub.Commit("model", "tinyml/digits-cnn", "main")
	require.FileExists(t, filepath.Join(cache, "models--tinyml--digits-cnn", "snapshots", commit, "digits_cnn.onnx"))
	data := hub.Commit("dataset", "tinyml/digits", "main")
	require.FileExists(t, filepath.Join(cache, "datasets--tinyml--digits", "snapshots", data, "data", "test-00000-of-00001.parquet"))
	require.Zero(t, hub.Count("", "GET", "train-00000"), "only the test split is downloaded")

	// Another run of the same references downloads nothing again.
	hub.ResetRequests()
	more, err := s.CreateRuns(ctx, "hub", tinyml.Matrix{Models: []string{"hf://tinyml/digits-cnn"}, Dataset: "hf://datasets/tinyml/digits", Compressions: []string{"int8-dynamic"}})
	require.NoError(t, err)
	done, err = s.Execute(ctx, more[0].ID)
	require.NoError(t, err)
	require.Equal(t, tinyml.Generated, done[0].Status, done[0].Err())
	require.Zero(t, hub.Count("cdn", "", ""), "%v", hub.Requests())
}

func TestAMalformedHubReferenceFailsWhenRunsAreCreated(t *testing.T) {
	ctx := context.Background()
	s := openStudio(t)
	_, err := s.CreateProject(ctx, "bad")
	require.NoError(t, err)
	for _, ref := range []string{"hf://digits", "hf://dataset/tinyml/digits", "hf://tinyml/digits@", "hf://tinyml/digits/../x.onnx"} {
		_, err = s.CreateRuns(ctx, "bad", tinyml.Matrix{Models: []string{ref}, Dataset: testenv.RepoFile(t, "testdata/data/digits_test.csv")})
		require.ErrorIs(t, err, tinyml.ErrBadReference, ref)
		require.ErrorContains(t, err, "hf://[datasets/]namespace/name[@revision][/path]", ref)
	}
	runs, err := s.Runs(ctx, tinyml.RunFilter{Project: "bad"})
	require.NoError(t, err)
	require.Empty(t, runs)
}

func TestAGatedModelFailsItsStepSayingWhatToDo(t *testing.T) {
	ctx := context.Background()
	hub := digitsHub(t)
	s := openStudio(t, tinyml.WithHub(tinyml.HubOptions{Endpoint: hub.URL(), CacheDir: t.TempDir(), NoToken: true}))
	_, err := s.CreateProject(ctx, "gated")
	require.NoError(t, err)
	runs, err := s.CreateRuns(ctx, "gated", tinyml.Matrix{Models: []string{"hf://acme/gated-cnn"}, Dataset: "hf://datasets/tinyml/digits"})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	st := done[0].Step(tinyml.StepModel)
	require.Equal(t, tinyml.Failed, st.Status)
	require.Contains(t, st.Error, "gated")
	require.Contains(t, st.Error, "HF_TOKEN")
	require.Contains(t, st.Error, hub.URL()+"/acme/gated-cnn")

	// With a token of an account that was granted access, the same run goes through.
	s2 := openStudio(t, tinyml.WithHub(tinyml.HubOptions{Endpoint: hub.URL(), CacheDir: t.TempDir(), Token: "hf_alice"}))
	_, err = s2.CreateProject(ctx, "gated")
	require.NoError(t, err)
	runs, err = s2.CreateRuns(ctx, "gated", tinyml.Matrix{Models: []string{"hf://acme/gated-cnn"}, Dataset: "hf://datasets/tinyml/digits"})
	require.NoError(t, err)
	done, err = s2.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, tinyml.Generated, done[0].Status, done[0].Err())
}

func TestDownloadFromHub(t *testing.T) {
	ctx := context.Background()
	hub := digitsHub(t)
	opts := tinyml.HubOptions{Endpoint: hub.URL(), CacheDir: t.TempDir(), NoToken: true}
	f, err := tinyml.DownloadFromHub(ctx, tinyml.HubDownload{Repo: "tinyml/digits", RepoType: "dataset", File: "README.md"}, opts)
	require.NoError(t, err)
	require.Equal(t, "README.md", f.File)
	require.Equal(t, hub.Commit("dataset", "tinyml/digits", "main"), f.Commit)
	b, err := os.ReadFile(f.Path)
	require.NoError(t, err)
	require.Equal(t, "# digits\n", string(b))

	snap, err := tinyml.DownloadFromHub(ctx, tinyml.HubDownload{Repo: "hf://tinyml/digits-cnn"}, opts)
	require.NoError(t, err)
	require.Empty(t, snap.File)
	require.FileExists(t, filepath.Join(snap.Path, "digits_cnn.onnx"))
	require.FileExists(t, filepath.Join(snap.Path, "README.md"))

	_, err = tinyml.DownloadFromHub(ctx, tinyml.HubDownload{Repo: "hf://datasets/tinyml/digits", RepoType: "model"}, opts)
	require.ErrorIs(t, err, tinyml.ErrBadReference)
	require.ErrorContains(t, err, "give it once")
}

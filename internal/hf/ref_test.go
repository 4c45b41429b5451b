package hf_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/hf"
)

func TestParseRef(t *testing.T) {
	model := func(id, rev, path string) hf.Ref {
		return hf.Ref{Repo: hf.Repo{Type: hf.Model, ID: id}, Revision: rev, Path: path}
	}
	dataset := func(id, rev, path string) hf.Ref {
		return hf.Ref{Repo: hf.Repo{Type: hf.Dataset, ID: id}, Revision: rev, Path: path}
	}
	for _, tc := range []struct {
		in   string
		want hf.Ref
	}{
		{"hf://tinyml/digits-cnn", model("tinyml/digits-cnn", "", "")},
		{"hf://tinyml/digits-cnn/", model("tinyml/digits-cnn", "", "")},
		{"hf://models/tinyml/digits-cnn", model("tinyml/digits-cnn", "", "")},
		{"hf://tinyml/digits-cnn@v1", model("tinyml/digits-cnn", "v1", "")},
		{"hf://tinyml/digits-cnn/model.onnx", model("tinyml/digits-cnn", "", "model.onnx")},
		{"hf://tinyml/digits-cnn@v1/onnx/model.onnx", model("tinyml/digits-cnn", "v1", "onnx/model.onnx")},
		{"hf://tinyml/digits-cnn/weights@2x.onnx", model("tinyml/digits-cnn", "", "weights@2x.onnx")},
		{"hf://tinyml/digits-cnn@0123456789abcdef0123456789abcdef01234567/m.onnx", model("tinyml/digits-cnn", "0123456789abcdef0123456789abcdef01234567", "m.onnx")},
		{"hf://tinyml/digits-cnn@feature%2Fquant/m.onnx", model("tinyml/digits-cnn", "feature/quant", "m.onnx")},
		{"hf://Org_1/My.Model-2", model("Org_1/My.Model-2", "", "")},
		{"hf://datasets/tinyml/digits", dataset("tinyml/digits", "", "")},
		{"hf://datasets/tinyml/digits@refs/convert/parquet/default/test/0000.parquet", dataset("tinyml/digits", "refs/convert/parquet", "default/test/0000.parquet")},
		{"hf://datasets/tinyml/digits@refs/pr/3", dataset("tinyml/digits", "refs/pr/3", "")},
		{"hf://datasets/tinyml/digits/data/test-00000-of-00001.parquet", dataset("tinyml/digits", "", "data/test-00000-of-00001.parquet")},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := hf.ParseRef(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			again, err := hf.ParseRef(got.String())
			require.NoError(t, err, "canonical form %s", got.String())
			require.Equal(t, got, again)
		})
	}
}

func TestParseRefErrorsSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct{ in, says string }{
		{"tinyml/digits", "starts with hf://"},
		{"hf://", "nothing follows"},
		{"hf://digits", "namespace/name"},
		{"hf://datasets", "namespace/name"},
		{"hf://datasets/", "namespace/name"},
		{"hf://dataset/tinyml/digits", "plural: datasets/"},
		{"hf://model/tinyml/digits", "plural: models/"},
		{"hf://spaces/tinyml/demo", "only model and dataset"},
		{"hf://tinyml/digits@", "revision after '@' is empty"},
		{"hf://tinyml/digits@/model.onnx", "revision after '@' is empty"},
		{"hf://tinyml/digits@v1/../../etc/passwd", "'..'"},
		{"hf://tinyml/digits/a//b.onnx", "empty"},
		{"hf://tinyml/digits/./b.onnx", "'.'"},
		{"hf://tinyml/di gits", "space"},
		{"hf://tinyml/digits?download=true", "'?'"},
		{"hf://tinyml/-digits", "letters, digits"},
		{"hf://tinyml/digits.git", ".git"},
		{"hf://tiny--ml/digits", `"--"`},
		{"hf://tinyml/dig..its", `".."`},
		{"hf://tinyml/" + strings.Repeat("d", 100), "96"},
		{"hf://tinyml/digits@refs/pr/x", "refs/pr/NUMBER"},
		{"hf://tinyml/digits@refs/pr/1x", "refs/pr/NUMBER"},
		{"hf://tinyml/digits@v%zz", "%-encoded"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := hf.ParseRef(tc.in)
			require.ErrorIs(t, err, hf.ErrBadRef)
			require.ErrorContains(t, err, tc.says)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestPick(t *testing.T) {
	ref := func(s string) hf.Ref {
		r, err := hf.ParseRef(s)
		require.NoError(t, err)
		return r
	}
	for _, tc := range []struct {
		name  string
		ref   string
		files []string
		want  string // the file, or the error's text
		err   error
	}{
		{"the single onnx", "hf://o/m", []string{".gitattributes", "README.md", "onnx/model.onnx", "config.json"}, "onnx/model.onnx", nil},
		{"a named file", "hf://o/m/b.onnx", []string{"a.onnx", "b.onnx"}, "b.onnx", nil},
		{"within a folder", "hf://o/m/int8", []string{"fp32/model.onnx", "int8/model.onnx"}, "int8/model.onnx", nil},
		{"several onnx", "hf://o/m", []string{"model.onnx", "model_int8.onnx", "README.md"}, "2 .onnx models (model.onnx, model_int8.onnx): name one, e.g. hf://o/m/model.onnx", hf.ErrAmbiguous},
		{"no onnx, weights", "hf://o/m", []string{"pytorch_model.bin", "model.safetensors", "config.json"}, "export the model to ONNX", hf.ErrNoFile},
		{"no onnx at all", "hf://o/m", []string{"README.md"}, "holds no .onnx model (it holds README.md)", hf.ErrNoFile},
		{"a missing path", "hf://o/m/nope.onnx", []string{"model.onnx"}, `no file or folder "nope.onnx" at main (it holds model.onnx)`, hf.ErrEntryNotFound},
		{"a dataset in a model repo", "hf://o/m", []string{"README.md", "digits.csv"}, "digits.csv", nil},
		{"the single parquet", "hf://datasets/o/d", []string{"README.md", "data/digits.parquet"}, "data/digits.parquet", nil},
		{"the test split", "hf://datasets/o/d", []string{"data/train-00000-of-00001.parquet", "data/test-00000-of-00001.parquet", "README.md"}, "data/test-00000-of-00001.parquet", nil},
		{"test.parquet", "hf://datasets/o/d", []string{"train.parquet", "test.parquet", "validation.parquet"}, "test.parquet", nil},
		{"the converted layout", "hf://datasets/o/d@refs/convert/parquet", []string{"default/train/0000.parquet", "default/test/0000.parquet"}, "default/test/0000.parquet", nil},
		{"parquet over csv in the test split", "hf://datasets/o/d", []string{"test.csv", "test.parquet", "train.csv"}, "test.parquet", nil},
		{"a sharded test split", "hf://datasets/o/d", []string{"data/test-00000-of-00002.parquet", "data/test-00001-of-00002.parquet", "data/train-00000-of-00001.parquet"}, "the test split of datasets/o/d is in 2 files", hf.ErrAmbiguous},
		{"no split names", "hf://datasets/o/d", []string{"a.csv", "b.csv"}, "no test split", hf.ErrAmbiguous},
		{"no dataset file", "hf://datasets/o/d", []string{"README.md", "images.zip"}, "holds no dataset file (.parquet, .csv or .npz)", hf.ErrNoFile},
		{"a dataset folder", "hf://datasets/o/d/mnist", []string{"mnist/test.parquet", "mnist/train.parquet", "cifar/test.parquet"}, "mnist/test.parquet", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hf.Pick(ref(tc.ref), tc.files)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.ErrorContains(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"hf://tinyml/digits-cnn", "hf://datasets/o/d@refs/convert/parquet/default/test/0000.parquet",
		"hf://o/m@feature%2Fx/a/b.onnx", "hf://o/m/w@2x.onnx", "hf://models/o/m@v1", "hf://o/m@refs/pr/12",
		"hf://o/m@..", "hf://datasets/o", "hf:///", "hf://o/m/../x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := hf.ParseRef(s)
		if err != nil {
			if !strings.Contains(err.Error(), hf.ErrBadRef.Error()) {
				t.Fatalf("error %v is not ErrBadRef", err)
			}
			return
		}
		// Whatever parses is safe to use as cache paths and round-trips.
		for _, seg := range strings.Split(r.Path, "/") {
			if r.Path != "" && (seg == "" || seg == "." || seg == "..") {
				t.Fatalf("path %q escapes", r.Path)
			}
		}
		for _, seg := range strings.Split(r.Revision, "/") {
			if r.Revision != "" && (seg == "" || seg == "." || seg == "..") {
				t.Fatalf("revision %q escapes", r.Revision)
			}
		}
		again, err := hf.ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("%q parses to %+v, whose form %q gives %+v, %v", s, r, r.String(), again, err)
		}
	})
}

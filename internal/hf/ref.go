package hf

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
)

// RepoType is the kind of a Hub repository.
type RepoType string

// Repository types this client handles.
const (
	Model   RepoType = "model"
	Dataset RepoType = "dataset"
)

// ParseRepoType reads "model" or "dataset" ("" is a model, as on the Hub; plurals are accepted).
func ParseRepoType(s string) (RepoType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "model", "models":
		return Model, nil
	case "dataset", "datasets":
		return Dataset, nil
	case "space", "spaces", "kernel", "kernels", "bucket", "buckets":
		return "", fmt.Errorf("%w: repository type %q: only model and dataset repositories hold what a run needs", ErrBadRef, s)
	}
	return "", fmt.Errorf("%w: repository type %q: use model or dataset", ErrBadRef, s)
}

// urlPrefix is the path prefix of the repository type in Hub URLs ("datasets/" or "").
func (t RepoType) urlPrefix() string {
	if t == Dataset {
		return "datasets/"
	}
	return ""
}

// Repo names a repository on the Hub.
type Repo struct {
	Type RepoType `json:"type"`
	ID   string   `json:"id"` // namespace/name
}

// String is the repository as a reference: "org/name" or "datasets/org/name".
func (r Repo) String() string { return r.Type.urlPrefix() + r.ID }

// folder is the repository's folder in the cache: models--org--name, datasets--org--name.
func (r Repo) folder() string {
	return string(r.typ()) + "s--" + strings.ReplaceAll(r.ID, "/", "--")
}

func (r Repo) typ() RepoType {
	if r.Type == "" {
		return Model
	}
	return r.Type
}

// Validate checks the repository id the way the Hub does: namespace/name, each of letters,
// digits, '-', '_' and '.', not starting or ending with '-' or '.', no "--" or "..", at most
// 96 characters, not ending in ".git".
func (r Repo) Validate() error {
	if r.Type != "" && r.Type != Model && r.Type != Dataset {
		return fmt.Errorf("%w: repository type %q: use model or dataset", ErrBadRef, r.Type)
	}
	id := r.ID
	ns, name, ok := strings.Cut(id, "/")
	switch {
	case id == "":
		return fmt.Errorf("%w: empty repository id; it is namespace/name, e.g. tinyml/digits-cnn", ErrBadRef)
	case !ok:
		return fmt.Errorf("%w: repository id %q needs a namespace: namespace/name, e.g. tinyml/%s", ErrBadRef, id, id)
	case strings.Contains(name, "/"):
		return fmt.Errorf("%w: repository id %q has more than two parts; it is namespace/name (a path in the repository follows it in a reference: hf://namespace/name/path)", ErrBadRef, id)
	case len(id) > 96:
		return fmt.Errorf("%w: repository id %q is longer than 96 characters", ErrBadRef, id)
	case !idPart.MatchString(ns) || !idPart.MatchString(name):
		return fmt.Errorf("%w: repository id %q: each part uses letters, digits, '-', '_' or '.', and does not start or end with '-' or '.'", ErrBadRef, id)
	case strings.Contains(id, "--") || strings.Contains(id, ".."):
		return fmt.Errorf("%w: repository id %q cannot contain \"--\" or \"..\"", ErrBadRef, id)
	case strings.HasSuffix(id, ".git"):
		return fmt.Errorf("%w: repository id %q cannot end in .git", ErrBadRef, id)
	}
	return nil
}

var idPart = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

// Scheme starts every Hub reference.
const Scheme = "hf://"

// Ref is a parsed Hub reference: hf://[datasets/]namespace/name[@revision][/path].
type Ref struct {
	Repo
	Revision string `json:"revision,omitempty"` // branch, tag or commit; "" means main
	Path     string `json:"path,omitempty"`     // a file or folder in the repository; "" means pick one
}

// Rev is the revision to fetch: Revision, or main.
func (r Ref) Rev() string {
	if r.Revision == "" {
		return DefaultRevision
	}
	return r.Revision
}

// String is the canonical form of the reference.
func (r Ref) String() string {
	s := Scheme + r.Repo.String()
	if r.Revision != "" {
		rev := r.Revision
		if !specialRef.MatchString(rev) {
			rev = url.PathEscape(rev) // a branch holding '/' is written with %2F
		}
		s += "@" + rev
	}
	if r.Path != "" {
		s += "/" + r.Path
	}
	return s
}

// DefaultRevision is the branch fetched when a reference names none.
const DefaultRevision = "main"

// specialRef matches the Hub's revisions that hold a '/': pull requests and conversions
// (refs/pr/N, refs/convert/parquet).
var specialRef = regexp.MustCompile(`^refs/(?:convert/[\w.-]+|pr/\d+)`)

// IsRef reports whether s is meant as a Hub reference (it starts with hf://).
func IsRef(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseRef parses a Hub reference, following huggingface_hub's grammar for HF URIs restricted to
// models and datasets:
//
//	hf://namespace/name[@revision][/path]           a model repository (models/ may precede it)
//	hf://datasets/namespace/name[@revision][/path]  a dataset repository
//
// The revision is a branch, tag or commit (refs/pr/N and refs/convert/NAME are kept whole; a
// branch holding '/' is written with %2F). The path names a file or a folder of the repository.
func ParseRef(s string) (Ref, error) {
	bad := func(format string, a ...any) (Ref, error) {
		return Ref{}, fmt.Errorf("%w: %q: %s (the form is hf://[datasets/]namespace/name[@revision][/path])", ErrBadRef, s, fmt.Sprintf(format, a...))
	}
	if !IsRef(s) {
		return bad("a Hub reference starts with hf://")
	}
	body := s[len(Scheme):]
	if strings.ContainsAny(body, "\\?#\x00") || strings.ContainsFunc(body, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }) {
		return bad("it holds a space, a control character, a backslash, '?' or '#'")
	}
	body = strings.TrimSuffix(body, "/")
	if body == "" {
		return bad("nothing follows hf://")
	}
	ref := Ref{Repo: Repo{Type: Model}}
	first, rest, _ := strings.Cut(body, "/")
	switch first {
	case "models":
		body = rest
	case "datasets":
		ref.Type, body = Dataset, rest
	case "model", "dataset":
		return bad("the type prefix is plural: %ss/", first)
	case "spaces", "kernels", "buckets":
		return bad("only model and dataset repositories hold what a run needs, not %s", first)
	}
	if body == "" {
		return bad("a repository id namespace/name must follow")
	}
	// '@' separates the revision only when it follows namespace/name directly: one in a file
	// name deeper down (weights@2x.onnx) is part of the path.
	at := strings.IndexByte(body, '@')
	if at < 0 || strings.Count(body[:at], "/") > 1 {
		parts := strings.SplitN(body, "/", 3)
		if len(parts) < 2 {
			return bad("the repository id is namespace/name, e.g. hf://tinyml/%s", body)
		}
		ref.ID = parts[0] + "/" + parts[1]
		if len(parts) == 3 {
			ref.Path = parts[2]
		}
	} else {
		ref.ID = body[:at]
		revPath := body[at+1:]
		if m := specialRef.FindString(revPath); m != "" {
			ref.Revision, ref.Path = m, strings.TrimPrefix(revPath[len(m):], "/")
			if revPath[len(m):] != "" && !strings.HasPrefix(revPath[len(m):], "/") {
				return bad("revision %q: the Hub's special revisions are refs/pr/NUMBER and refs/convert/NAME", revPath)
			}
		} else {
			rev, p, _ := strings.Cut(revPath, "/")
			if rev == "refs" && p != "" {
				return bad("revision refs/%s: the Hub's special revisions are refs/pr/NUMBER and refs/convert/NAME (write another branch holding '/' with %%2F)", strings.SplitN(p, "/", 3)[0])
			}
			dec, err := url.PathUnescape(rev)
			if err != nil {
				return bad("revision %q is badly %%-encoded", rev)
			}
			ref.Revision, ref.Path = dec, p
		}
		if ref.Revision == "" {
			return bad("the revision after '@' is empty")
		}
		if err := checkRevision(ref.Revision); err != nil {
			return bad("%v", err)
		}
	}
	if err := ref.Repo.Validate(); err != nil {
		return Ref{}, fmt.Errorf("%q: %w", s, err)
	}
	if ref.Path != "" {
		if err := checkPath(ref.Path); err != nil {
			return bad("%v", err)
		}
	}
	return ref, nil
}

// checkRevision refuses revisions that could not be a git ref or would escape the cache's refs
// folder.
func checkRevision(rev string) error {
	if rev == "" {
		return fmt.Errorf("the revision is empty")
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("revision %q has an empty, '.' or '..' part", rev)
		}
	}
	if strings.ContainsAny(rev, " ~^:?*[\\") || strings.Contains(rev, "..") || strings.ContainsFunc(rev, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("revision %q holds a character git refuses in a branch or tag name (space, ~ ^ : ? * [ \\, \"..\" or a control character)", rev)
	}
	return nil
}

// checkPath refuses paths that are not plain relative paths inside a repository.
func checkPath(p string) error {
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q starts with '/'", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path %q has an empty, '.' or '..' part", p)
		}
	}
	if strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("path %q holds a backslash or a NUL", p)
	}
	return nil
}

// Pick chooses the file a reference stands for among the repository's files (paths relative
// to its root): the file the reference names; else, within the folder it names (or the whole
// repository), the single .onnx file of a model repository, or the dataset file of a dataset
// repository — the single .parquet, .csv or .npz file, or else the test split as Hub datasets
// lay it out (test.parquet, data/test-00000-of-00001.parquet, CONFIG/test/0000.parquet). A
// model repository without an .onnx file may hold a dataset, picked the same way. The errors
// list the candidates (ErrAmbiguous) or what the repository holds (ErrNoFile).
func Pick(ref Ref, files []string) (string, error) {
	if ref.Path != "" && slices.Contains(files, ref.Path) {
		return ref.Path, nil
	}
	scope := files
	where := ref.Repo.String()
	if ref.Path != "" {
		prefix := ref.Path + "/"
		scope = nil
		for _, f := range files {
			if strings.HasPrefix(f, prefix) {
				scope = append(scope, f)
			}
		}
		if len(scope) == 0 {
			return "", fmt.Errorf("%w: %s has no file or folder %q at %s%s", ErrEntryNotFound, ref.Repo, ref.Path, ref.Rev(), listing(" (it holds ", files, ")"))
		}
		where += "/" + ref.Path
	}
	if ref.typ() == Dataset {
		return pickDataset(where, ref, scope)
	}
	models := filter(scope, func(f string) bool { return ext(f) == ".onnx" })
	switch len(models) {
	case 1:
		return models[0], nil
	case 0:
		if f, err := pickDataset(where, ref, scope); err == nil {
			return f, nil
		}
		var other []string
		for _, f := range scope {
			switch ext(f) {
			case ".safetensors", ".bin", ".pt", ".pth", ".pkl", ".h5", ".tflite", ".keras", ".msgpack", ".gguf":
				other = append(other, f)
			}
		}
		if len(other) > 0 {
			return "", fmt.Errorf("%w: %s holds no .onnx model, only %s: export the model to ONNX (torch.onnx.export, or optimum-cli export onnx) and upload it, or use a repository that has one",
				ErrNoFile, where, strings.Join(first(other, 8), ", "))
		}
		return "", fmt.Errorf("%w: %s holds no .onnx model%s", ErrNoFile, where, listing(" (it holds ", scope, ")"))
	}
	return "", fmt.Errorf("%w: %s holds %d .onnx models (%s): name one, e.g. %s",
		ErrAmbiguous, where, len(models), strings.Join(first(models, 12), ", "), Ref{Repo: ref.Repo, Revision: ref.Revision, Path: models[0]})
}

func pickDataset(where string, ref Ref, files []string) (string, error) {
	data := filter(files, isDataFile)
	if len(data) == 1 {
		return data[0], nil
	}
	if len(data) == 0 {
		return "", fmt.Errorf("%w: %s holds no dataset file (.parquet, .csv or .npz)%s", ErrNoFile, where, listing(" (it holds ", files, ")"))
	}
	test := filter(data, isTestSplit)
	if len(test) > 1 {
		if pq := filter(test, func(f string) bool { return ext(f) == ".parquet" }); len(pq) > 0 {
			test = pq
		}
	}
	switch len(test) {
	case 1:
		return test[0], nil
	case 0:
		return "", fmt.Errorf("%w: %s holds %d dataset files and no test split (test.parquet, data/test-*.parquet): name the one to use, e.g. %s (it holds %s)",
			ErrAmbiguous, where, len(data), Ref{Repo: ref.Repo, Revision: ref.Revision, Path: data[0]}, strings.Join(first(data, 12), ", "))
	}
	return "", fmt.Errorf("%w: the test split of %s is in %d files (%s): name the one to use, e.g. %s",
		ErrAmbiguous, where, len(test), strings.Join(first(test, 12), ", "), Ref{Repo: ref.Repo, Revision: ref.Revision, Path: test[0]})
}

func isDataFile(f string) bool {
	switch ext(f) {
	case ".parquet", ".csv", ".npz":
		return true
	}
	return false
}

// isTestSplit recognises the Hub's split naming: test.parquet, test-00000-of-00001.parquet,
// test_foo.csv, or any file in a folder named test (refs/convert/parquet's CONFIG/test/0000.parquet).
func isTestSplit(f string) bool {
	dir, base := path.Split(f)
	stem := strings.ToLower(strings.TrimSuffix(base, path.Ext(base)))
	if stem == "test" || strings.HasPrefix(stem, "test-") || strings.HasPrefix(stem, "test_") || strings.HasPrefix(stem, "test.") {
		return true
	}
	return slices.Contains(strings.Split(strings.ToLower(strings.Trim(dir, "/")), "/"), "test")
}

func ext(f string) string { return strings.ToLower(path.Ext(f)) }

func filter(files []string, keep func(string) bool) []string {
	var out []string
	for _, f := range files {
		if keep(f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

func first(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clip(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}

func listing(before string, files []string, after string) string {
	var shown []string
	for _, f := range files {
		if !strings.HasPrefix(path.Base(f), ".") {
			shown = append(shown, f)
		}
	}
	if len(shown) == 0 {
		return " (it holds no files)"
	}
	slices.Sort(shown)
	return before + strings.Join(first(shown, 12), ", ") + after
}

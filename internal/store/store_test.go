package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var pipeline = []string{"model", "dataset", "compile", "install", "inference"}

func openTest(t testing.TB, path string) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "tinyml.db")
	}
	s, err := Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesFileAndParentDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "tinyml.db")
	s := openTest(t, path)
	_, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, path, s.Path())

	ctx := context.Background()
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"synchronous", "1"}, // NORMAL
	} {
		var got string
		require.NoError(t, s.w.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got), tc.pragma)
		require.Equal(t, tc.want, strings.ToLower(got), tc.pragma)
	}
	// The read pool cannot write.
	_, err = s.r.ExecContext(ctx, `INSERT INTO projects (id, name, created) VALUES ('x', 'y', 0)`)
	require.Error(t, err)
}

func TestOpenPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my data #1?x=y%20", "tinyml.db")
	s := openTest(t, path)
	_, err := s.CreateProject(context.Background(), "p")
	require.NoError(t, err)
	_, err = os.Stat(path)
	require.NoError(t, err, "the file is where the caller said, not at a mangled path")
}

func TestOpenRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{"", ":memory:", "file:x.db", dir} {
		_, err := Open(context.Background(), path)
		require.ErrorIs(t, err, ErrInvalid, "path %q", path)
	}
}

func TestReopenFindsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tinyml.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	p, err := s.CreateProject(ctx, "vision")
	require.NoError(t, err)
	d, err := s.AddDevice(ctx, Device{Name: "pi", Kind: KindSSH, Arch: "arm64", CPUs: 4, MemoryBytes: 1 << 30,
		StorageBytes: 8 << 30, Host: "10.0.0.2", User: "pi", Port: 22, KeyPath: "/k"})
	require.NoError(t, err)
	runs, err := s.CreateRuns(ctx, p.ID, []Run{{Model: "hf://org/m", Dataset: "d.csv", Technique: "int8-static", Device: "pi"}}, pipeline)
	require.NoError(t, err)
	_, err = s.UpdateStep(ctx, runs[0].ID, "model", StepUpdate{Status: StatusGenerated})
	require.NoError(t, err)
	require.NoError(t, s.SetMetrics(ctx, runs[0].ID, []byte(`{"accuracy":0.9}`)))
	want, err := s.GetRun(ctx, runs[0].ID)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = openTest(t, path)
	gotP, err := s.GetProject(ctx, "vision")
	require.NoError(t, err)
	require.Equal(t, p, gotP)
	gotD, err := s.GetDevice(ctx, "pi")
	require.NoError(t, err)
	require.Equal(t, d, gotD)
	got, err := s.GetRun(ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.JSONEq(t, `{"accuracy":0.9}`, string(got.Metrics))
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tinyml.db")
	for i := 0; i < 3; i++ {
		s, err := Open(ctx, path)
		require.NoError(t, err, "open #%d", i+1)
		_, err = s.CreateProject(ctx, "p"+string(rune('a'+i)))
		require.NoError(t, err)
		var n, v int
		require.NoError(t, s.r.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &v))
		require.Equal(t, SchemaVersion(), n)
		require.Equal(t, SchemaVersion(), v)
		ps, err := s.ListProjects(ctx)
		require.NoError(t, err)
		require.Len(t, ps, i+1, "data survives reopening")
		require.NoError(t, s.Close())
	}
}

func TestOpenNewerSchemaFails(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tinyml.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	_, err = s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, 0)`, SchemaVersion()+1)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(ctx, path)
	require.ErrorIs(t, err, ErrSchemaTooNew)
	require.ErrorContains(t, err, "newer tinyml")
}

func TestIDs(t *testing.T) {
	re := regexp.MustCompile(`^run_[a-z2-7]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := newID("run_")
		require.Regexp(t, re, id)
		require.False(t, seen[id], "duplicate %s", id)
		seen[id] = true
		require.True(t, looksLikeID("run_", id))
	}
}

func TestCreateProject(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	_, err := s.CreateProject(ctx, "taken")
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		want error
	}{
		{"vision", nil},
		{"Vision 2 — ünïcode", nil},
		{strings.Repeat("x", MaxNameLen), nil},
		{"taken", ErrConflict},
		{"", ErrInvalid},
		{strings.Repeat("x", MaxNameLen+1), ErrInvalid},
		{"tab\there", ErrInvalid},
		{"new\nline", ErrInvalid},
		{" padded", ErrInvalid},
		{"prj_abcdefghijkl", ErrInvalid},
		{"bad\xffutf8", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.CreateProject(ctx, tc.name)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.Regexp(t, `^prj_[a-z2-7]{12}$`, p.ID)
			require.Equal(t, tc.name, p.Name)
			require.False(t, p.Created.IsZero())
			require.Equal(t, "UTC", p.Created.Location().String())
		})
	}
	_, err = s.CreateProject(ctx, "taken")
	require.ErrorContains(t, err, `"taken"`, "the message names the project")
}

func TestGetAndListProjects(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	a, err := s.CreateProject(ctx, "alpha")
	require.NoError(t, err)
	b, err := s.CreateProject(ctx, "beta")
	require.NoError(t, err)

	for _, key := range []string{a.ID, "alpha"} {
		got, err := s.GetProject(ctx, key)
		require.NoError(t, err)
		require.Equal(t, a, got)
	}
	_, err = s.GetProject(ctx, "gamma")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, `"gamma"`)

	all, err := s.ListProjects(ctx)
	require.NoError(t, err)
	require.Equal(t, []Project{a, b}, all)
}

func TestDevices(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	local, err := s.AddDevice(ctx, Device{Name: "laptop", Kind: KindLocal})
	require.NoError(t, err)
	require.Regexp(t, `^dev_[a-z2-7]{12}$`, local.ID)
	box, err := s.AddDevice(ctx, Device{Name: "small-box", Kind: KindDocker, CPUs: 0.5, MemoryBytes: 64 << 20, StorageBytes: 4 << 20, Arch: "amd64"})
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		d    Device
		want error
	}{
		{"duplicate", Device{Name: "laptop", Kind: KindLocal}, ErrConflict},
		{"no name", Device{Kind: KindLocal}, ErrInvalid},
		{"bad kind", Device{Name: "x", Kind: "vm"}, ErrInvalid},
		{"negative cpus", Device{Name: "x", Kind: KindDocker, CPUs: -1}, ErrInvalid},
		{"negative memory", Device{Name: "x", Kind: KindDocker, MemoryBytes: -1}, ErrInvalid},
		{"bad port", Device{Name: "x", Kind: KindSSH, Port: 70000}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddDevice(ctx, tc.d)
			require.ErrorIs(t, err, tc.want)
		})
	}

	for _, key := range []string{"small-box", box.ID} {
		got, err := s.GetDevice(ctx, key)
		require.NoError(t, err)
		require.Equal(t, box, got)
	}
	_, err = s.GetDevice(ctx, "nope")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, `"nope"`)

	all, err := s.ListDevices(ctx)
	require.NoError(t, err)
	require.Equal(t, []Device{local, box}, all)
}

func TestCanceledContext(t *testing.T) {
	s := openTest(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.CreateProject(ctx, "p")
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
	_, err = s.ListRuns(ctx, ListFilter{})
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

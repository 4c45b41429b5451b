// Package store is the embedded store of projects, devices, runs and their
// pipeline steps: one SQLite file (modernc.org/sqlite, pure Go) in WAL mode.
//
// A Store keeps two connection pools on the file: a single write connection,
// whose transactions begin IMMEDIATE (so a writer takes the write lock up
// front and never fails half-way with SQLITE_BUSY; writers in this process
// queue in Go, writers in other processes wait up to the busy timeout), and a
// pool of read-only connections, which WAL lets read a consistent snapshot
// while a write is in progress.
//
// Records are plain structs; times are UTC and the zero time means "not set".
// Errors wrap ErrNotFound, ErrConflict, ErrInvalid or ErrSchemaTooNew, to be
// tested with errors.Is.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors a caller can test with errors.Is.
var (
	// ErrNotFound: no project, device, run or step with that ID or name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the name is taken, or the change clashes with the
	// current state (e.g. resetting a running step).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is malformed (bad name, unknown status, ...).
	ErrInvalid = errors.New("invalid")
	// ErrSchemaTooNew: the file was written by a newer version of the
	// program.
	ErrSchemaTooNew = errors.New("store schema is newer than this program")
)

// BusyTimeout is how long a write waits for another process's write lock.
const BusyTimeout = 5 * time.Second

// MaxNameLen is the longest project or device name, in characters.
const MaxNameLen = 100

// Store is an open store. Its methods are safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // one connection; BEGIN IMMEDIATE
	r    *sql.DB // read-only connections
	now  func() time.Time
}

// Open opens the store at path, creating the file and its parent directory if
// needed, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("%w: store path %q: give a file path", ErrInvalid, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store path %q: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%w: store path %s is a directory: give a file path, e.g. %s",
			ErrInvalid, abs, filepath.Join(abs, "tinyml.db"))
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	s := &Store{path: abs, now: func() time.Time { return time.Now().UTC() }}

	// An URI keeps '?' and '#' in the path from being read as parameters.
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath()
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeout.Milliseconds())
	s.w, err = sql.Open("sqlite", uri+"?"+busy+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}

	s.r, err = sql.Open("sqlite", uri+"?"+busy+"&_pragma=query_only(1)&_pragma=cache_size(-32768)&_pragma=mmap_size(268435456)")
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.r.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	return s, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store. Calls in progress may fail.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		// Cheap statistics upkeep, as SQLite recommends before closing.
		_, _ = s.w.Exec(`PRAGMA optimize`)
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// write runs f in one immediate write transaction.
func (s *Store) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs f in one read-only transaction: a consistent snapshot.
func (s *Store) read(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	return f(tx)
}

// newID returns prefix + 12 random lowercase base32 characters (60 bits).
func newID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	out := make([]byte, len(prefix)+len(b))
	copy(out, prefix)
	for i, c := range b {
		out[len(prefix)+i] = alphabet[c&31]
	}
	return string(out)
}

// looksLikeID reports whether s has the shape of an ID with that prefix.
func looksLikeID(prefix, s string) bool {
	if len(s) != len(prefix)+12 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range []byte(s[len(prefix):]) {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// checkName validates a project or device name.
func checkName(what, name, idPrefix string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: %s name is empty", ErrInvalid, what)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %s name %q is not valid UTF-8", ErrInvalid, what, name)
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Errorf("%w: %s name %.20q... is longer than %d characters", ErrInvalid, what, name, MaxNameLen)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w: %s name %q starts or ends with a space", ErrInvalid, what, name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: %s name %q contains a control character", ErrInvalid, what, name)
	case looksLikeID(idPrefix, name):
		return fmt.Errorf("%w: %s name %q looks like an ID: choose another name", ErrInvalid, what, name)
	}
	return nil
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Times are stored as INTEGER nanoseconds since the epoch; NULL is zero.

func dbTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func goTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations is the schema's history: migration i (0-based) brings the schema
// to version i+1. Append only; never edit an entry once released.
//
// Times are INTEGER nanoseconds since the Unix epoch, UTC; NULL is the zero
// time. runs.seq (the rowid) gives the creation order; steps refer to it
// (not to the text ID) and are clustered by (run_seq, position), so listing
// runs with their steps is two ordered scans merged in Go, and a run's steps
// come back in pipeline order without a sort.
var migrations = []string{
	// 1: projects, devices, runs, steps.
	`
CREATE TABLE projects (
	id      TEXT PRIMARY KEY,
	name    TEXT NOT NULL UNIQUE,
	created INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	kind          TEXT NOT NULL CHECK (kind IN ('local', 'docker', 'ssh')),
	arch          TEXT NOT NULL DEFAULT '',
	cpus          REAL NOT NULL DEFAULT 0,
	memory_bytes  INTEGER NOT NULL DEFAULT 0,
	storage_bytes INTEGER NOT NULL DEFAULT 0,
	host          TEXT NOT NULL DEFAULT '',
	ssh_user      TEXT NOT NULL DEFAULT '',
	port          INTEGER NOT NULL DEFAULT 0,
	key_path      TEXT NOT NULL DEFAULT '',
	created       INTEGER NOT NULL
) STRICT;

CREATE TABLE runs (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	model      TEXT NOT NULL DEFAULT '',
	dataset    TEXT NOT NULL DEFAULT '',
	calib      TEXT NOT NULL DEFAULT '',
	technique  TEXT NOT NULL DEFAULT '',
	device     TEXT NOT NULL DEFAULT '',
	toolchain  TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL CHECK (status IN ('pending', 'running', 'generated', 'failed', 'canceled')),
	created    INTEGER NOT NULL,
	updated    INTEGER NOT NULL,
	metrics    TEXT,
	installed  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX runs_project ON runs (project_id, seq);
CREATE INDEX runs_status ON runs (status, seq);

CREATE TABLE steps (
	run_seq  INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	name     TEXT NOT NULL,
	status   TEXT NOT NULL CHECK (status IN ('pending', 'running', 'generated', 'failed', 'canceled')),
	started  INTEGER,
	finished INTEGER,
	error    TEXT NOT NULL DEFAULT '',
	attempt  INTEGER NOT NULL DEFAULT 0,
	job      TEXT NOT NULL DEFAULT '',
	updated  INTEGER NOT NULL,
	PRIMARY KEY (run_seq, position),
	UNIQUE (run_seq, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX steps_running ON steps (run_seq, position) WHERE status = 'running';
`,
}

// SchemaVersion is the schema version this code writes and understands.
func SchemaVersion() int { return len(migrations) }

// migrate applies the migrations the database lacks, each in its own
// (immediate) transaction, and refuses a database whose schema is newer than
// this code.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	applied INTEGER NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	have, err := schemaVersion(ctx, s.w)
	if err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("%w: %s has schema version %d, this program knows up to %d: use a newer tinyml",
			ErrSchemaTooNew, s.path, have, len(migrations))
	}
	for i := have; i < len(migrations); i++ {
		if err := s.applyMigration(ctx, i+1, migrations[i]); err != nil {
			return err
		}
	}
	return nil
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func (s *Store) applyMigration(ctx context.Context, version int, stmts string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d: %w", version, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// Another process may have migrated since we looked: re-check under the
	// write lock.
	have, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if have >= version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, stmts); err != nil {
		return fmt.Errorf("migration %d: %w", version, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`,
		version, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("migration %d: record: %w", version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d: commit: %w", version, err)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// CreateRuns creates runs in the project (given by ID or name), in one
// transaction: all or none. Each run gets ID, Created, Updated, status
// "pending" and one pending Step per name in steps, in that order (the
// pipeline order GetRun and ListRuns return). The runs' other fields are
// stored as given; Status and Steps given are ignored. A missing project is
// ErrNotFound; an empty, duplicated or malformed step name, or Metrics that
// are not JSON, is ErrInvalid.
func (s *Store) CreateRuns(ctx context.Context, projectID string, runs []Run, steps []string) ([]Run, error) {
	if err := checkSteps(steps); err != nil {
		return nil, err
	}
	for i, r := range runs {
		if r.Metrics != nil && !json.Valid(r.Metrics) {
			return nil, fmt.Errorf("%w: run %d of %d: metrics are not valid JSON", ErrInvalid, i+1, len(runs))
		}
	}
	now := fromNanos(s.now().UnixNano())
	out := make([]Run, len(runs))
	err := s.write(ctx, func(tx *sql.Tx) error {
		p, err := getProject(ctx, tx, projectID)
		if err != nil {
			return err
		}
		insRun, err := tx.PrepareContext(ctx, `INSERT INTO runs
			(id, project_id, model, dataset, calib, technique, device, toolchain, status, created, updated, metrics, installed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insRun.Close()
		insStep, err := tx.PrepareContext(ctx, `INSERT INTO steps
			(run_seq, position, name, status, updated) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insStep.Close()
		for i, r := range runs {
			r.ID = newID("run_")
			r.ProjectID = p.ID
			r.Status = StatusPending
			r.Created, r.Updated = now, now
			var metrics any
			if r.Metrics != nil {
				r.Metrics = append([]byte(nil), r.Metrics...)
				metrics = string(r.Metrics)
			}
			res, err := insRun.ExecContext(ctx, r.ID, r.ProjectID, r.Model, r.Dataset, r.Calib, r.Technique,
				r.Device, r.Toolchain, r.Status, now.UnixNano(), now.UnixNano(), metrics, r.Installed)
			if err != nil {
				return fmt.Errorf("run %d of %d: %w", i+1, len(runs), err)
			}
			seq, err := res.LastInsertId()
			if err != nil {
				return fmt.Errorf("run %d of %d: %w", i+1, len(runs), err)
			}
			r.Steps = make([]Step, len(steps))
			for j, name := range steps {
				r.Steps[j] = Step{RunID: r.ID, Name: name, Status: StatusPending, Updated: now}
				if _, err := insStep.ExecContext(ctx, seq, j, name, StatusPending, now.UnixNano()); err != nil {
					return fmt.Errorf("run %d of %d: step %q: %w", i+1, len(runs), name, err)
				}
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("create runs in project %q: %w", projectID, err)
	}
	return out, nil
}

func checkSteps(steps []string) error {
	if len(steps) == 0 {
		return fmt.Errorf("%w: a run needs at least one step", ErrInvalid)
	}
	seen := make(map[string]bool, len(steps))
	for _, name := range steps {
		switch {
		case name == "" || len(name) > 64 || strings.TrimSpace(name) != name ||
			strings.IndexFunc(name, unicode.IsControl) >= 0:
			return fmt.Errorf("%w: step name %q: use 1-64 printable characters", ErrInvalid, name)
		case seen[name]:
			return fmt.Errorf("%w: step %q is listed twice", ErrInvalid, name)
		}
		seen[name] = true
	}
	return nil
}

const runCols = `r.seq, r.id, r.project_id, r.model, r.dataset, r.calib, r.technique, r.device, r.toolchain,
	r.status, r.created, r.updated, r.metrics, r.installed`

type scanner interface{ Scan(...any) error }

// runScanner scans runCols. It is reused row after row, so that Scan's
// destinations are allocated once per query, not once per row.
type runScanner struct {
	r                     Run
	seq, created, updated int64
	dest                  []any
}

func newRunScanner() *runScanner {
	rs := &runScanner{}
	r := &rs.r
	rs.dest = []any{&rs.seq, &r.ID, &r.ProjectID, &r.Model, &r.Dataset, &r.Calib, &r.Technique, &r.Device,
		&r.Toolchain, &r.Status, &rs.created, &rs.updated, &r.Metrics, &r.Installed}
	return rs
}

// scan returns the next run and its seq.
func (rs *runScanner) scan(sc scanner) (Run, int64, error) {
	rs.r = Run{}
	if err := sc.Scan(rs.dest...); err != nil {
		return Run{}, 0, err
	}
	r := rs.r
	r.Created, r.Updated = fromNanos(rs.created), fromNanos(rs.updated)
	return r, rs.seq, nil
}

// stepCols follow a leading column that identifies the run (see
// stepScanner).
const stepCols = `s.name, s.status, s.started, s.finished, s.error, s.attempt, s.job, s.updated`

// stepScanner scans stepCols, after a leading column into lead when it is
// not nil. Reused like runScanner.
type stepScanner struct {
	st                Step
	started, finished sql.NullInt64
	updated           int64
	dest              []any
}

func newStepScanner(lead any) *stepScanner {
	ss := &stepScanner{}
	st := &ss.st
	ss.dest = []any{lead, &st.Name, &st.Status, &ss.started, &ss.finished, &st.Error, &st.Attempt, &st.Job, &ss.updated}
	if lead == nil {
		ss.dest = ss.dest[1:]
	}
	return ss
}

func (ss *stepScanner) scan(sc scanner) (Step, error) {
	ss.st = Step{}
	if err := sc.Scan(ss.dest...); err != nil {
		return Step{}, err
	}
	st := ss.st
	st.Started, st.Finished, st.Updated = goTime(ss.started), goTime(ss.finished), fromNanos(ss.updated)
	return st, nil
}

// GetRun returns the run with its steps in pipeline order.
func (s *Store) GetRun(ctx context.Context, id string) (Run, error) {
	var r Run
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		r, _, err = getRun(ctx, tx, id)
		return err
	})
	if err != nil {
		return Run{}, err
	}
	return r, nil
}

// getRun returns the run and its seq.
func getRun(ctx context.Context, tx *sql.Tx, id string) (Run, int64, error) {
	r, seq, err := newRunScanner().scan(tx.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs r WHERE r.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, 0, fmt.Errorf("%w: no run %q", ErrNotFound, id)
	}
	if err != nil {
		return Run{}, 0, fmt.Errorf("get run %q: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+stepCols+` FROM steps s WHERE s.run_seq = ? ORDER BY s.position`, seq)
	if err != nil {
		return Run{}, 0, fmt.Errorf("get run %q: steps: %w", id, err)
	}
	defer rows.Close()
	ss := newStepScanner(nil)
	for rows.Next() {
		st, err := ss.scan(rows)
		if err != nil {
			return Run{}, 0, fmt.Errorf("get run %q: steps: %w", id, err)
		}
		st.RunID = r.ID
		r.Steps = append(r.Steps, st)
	}
	if err := rows.Err(); err != nil {
		return Run{}, 0, fmt.Errorf("get run %q: steps: %w", id, err)
	}
	return r, seq, nil
}

// ListRuns returns the runs that match f, with their steps, oldest first.
// It reads one snapshot with two queries, runs and then their steps, both in
// creation order, and merges them.
func (s *Store) ListRuns(ctx context.Context, f ListFilter) ([]Run, error) {
	if f.Status != "" && !ValidStatus(f.Status) {
		return nil, fmt.Errorf("%w: status %q: use pending, running, generated, failed or canceled", ErrInvalid, f.Status)
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("%w: limit %d is negative", ErrInvalid, f.Limit)
	}
	var where []string
	var args []any
	if f.ProjectID != "" {
		where = append(where, "r.project_id = ?")
		args = append(args, f.ProjectID)
	}
	if f.Status != "" {
		where = append(where, "r.status = ?")
		args = append(args, f.Status)
	}
	runQ := `SELECT ` + runCols + ` FROM runs r`
	if len(where) > 0 {
		runQ += ` WHERE ` + strings.Join(where, " AND ")
	}
	runQ += ` ORDER BY r.seq`
	runArgs := args
	if f.Limit > 0 {
		runQ += ` LIMIT ?`
		runArgs = append(runArgs[:len(runArgs):len(runArgs)], f.Limit)
	}
	// The steps of exactly the listed runs: those of the runs that match
	// and whose seq is within the listed range (which the limit cut).
	stepQ := `SELECT s.run_seq, ` + stepCols + ` FROM steps s WHERE s.run_seq BETWEEN ? AND ? ORDER BY s.run_seq, s.position`
	if len(where) > 0 {
		stepQ = `SELECT s.run_seq, ` + stepCols + ` FROM runs r JOIN steps s ON s.run_seq = r.seq
			WHERE r.seq BETWEEN ? AND ? AND ` + strings.Join(where, " AND ") + ` ORDER BY r.seq, s.position`
	}

	var out []Run
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, runQ, runArgs...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var seqs []int64
		rs := newRunScanner()
		for rows.Next() {
			r, seq, err := rs.scan(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
			seqs = append(seqs, seq)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		srows, err := tx.QueryContext(ctx, stepQ, append([]any{seqs[0], seqs[len(seqs)-1]}, args...)...)
		if err != nil {
			return err
		}
		defer srows.Close()
		// One pass: both are in seq order. Each run's steps share one
		// backing array.
		all := make([]Step, 0, len(out)*5)
		i, start := 0, 0
		var seq int64
		ss := newStepScanner(&seq)
		for srows.Next() {
			st, err := ss.scan(srows)
			if err != nil {
				return err
			}
			for seq != seqs[i] {
				out[i].Steps = all[start:len(all):len(all)]
				start = len(all)
				if i++; i == len(out) {
					return fmt.Errorf("steps of run #%d outside the listed runs", seq)
				}
			}
			st.RunID = out[i].ID
			all = append(all, st)
		}
		if err := srows.Err(); err != nil {
			return err
		}
		out[i].Steps = all[start:len(all):len(all)]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// UpdateStep changes one step of a run (see StepUpdate) and, in the same
// write transaction, recomputes the run's status (RunStatus) and Updated. It
// returns the updated run. An unknown run or step is ErrNotFound, an unknown
// status word ErrInvalid. Any transition is allowed; the caller's pipeline
// decides which make sense.
func (s *Store) UpdateStep(ctx context.Context, runID, step string, u StepUpdate) (Run, error) {
	if u.Status != "" && !ValidStatus(u.Status) {
		return Run{}, fmt.Errorf("%w: step %q of run %q: status %q: use pending, running, generated, failed or canceled",
			ErrInvalid, step, runID, u.Status)
	}
	inc := 0
	if u.IncAttempt {
		inc = 1
	}
	var r Run
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, `UPDATE steps SET
			status   = CASE WHEN ?3 = '' THEN status ELSE ?3 END,
			error    = CASE WHEN ?3 <> '' OR ?4 <> '' THEN ?4 ELSE error END,
			job      = CASE WHEN ?5 <> '' THEN ?5 ELSE job END,
			started  = COALESCE(?6, started),
			finished = CASE WHEN ?7 IS NOT NULL THEN ?7 WHEN ?3 IN ('running', 'pending') THEN NULL ELSE finished END,
			attempt  = attempt + ?8,
			updated  = ?9
			WHERE run_seq = (SELECT seq FROM runs WHERE id = ?1) AND name = ?2`,
			runID, step, u.Status, u.Error, u.Job, dbTime(u.Started), dbTime(u.Finished), inc, now.UnixNano())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return stepNotFound(ctx, tx, runID, step)
		}
		r, err = touchRun(ctx, tx, runID, now)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Run{}, err
		}
		return Run{}, fmt.Errorf("update step %q of run %q: %w", step, runID, err)
	}
	return r, nil
}

// stepNotFound explains why (runID, step) matched nothing.
func stepNotFound(ctx context.Context, tx *sql.Tx, runID, step string) error {
	r, _, err := getRun(ctx, tx, runID)
	if err != nil {
		return err
	}
	names := make([]string, len(r.Steps))
	for i, st := range r.Steps {
		names[i] = st.Name
	}
	return fmt.Errorf("%w: run %q has no step %q (its steps: %s)", ErrNotFound, runID, step, strings.Join(names, ", "))
}

// touchRun re-derives the run's status from its steps, stores it with
// updated = now, and returns the run.
func touchRun(ctx context.Context, tx *sql.Tx, runID string, now time.Time) (Run, error) {
	r, seq, err := getRun(ctx, tx, runID)
	if err != nil {
		return Run{}, err
	}
	r.Status = RunStatus(r.Steps)
	r.Updated = fromNanos(now.UnixNano())
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, updated = ? WHERE seq = ?`,
		r.Status, now.UnixNano(), seq); err != nil {
		return Run{}, err
	}
	return r, nil
}

// SetMetrics stores the run's metrics (JSON; nil clears them).
func (s *Store) SetMetrics(ctx context.Context, runID string, metrics []byte) error {
	var v any
	if metrics != nil {
		if !json.Valid(metrics) {
			return fmt.Errorf("%w: metrics of run %q are not valid JSON", ErrInvalid, runID)
		}
		v = string(metrics)
	}
	return s.setRun(ctx, runID, "metrics", v)
}

// SetInstalled records what the install step produced (e.g. an image
// reference); "" clears it.
func (s *Store) SetInstalled(ctx context.Context, runID, ref string) error {
	return s.setRun(ctx, runID, "installed", ref)
}

// SetReference replaces what a run fetches for its model, dataset or calibration set ("model",
// "dataset" or "calib"): a new upload or Hub reference for a step about to run again.
func (s *Store) SetReference(ctx context.Context, runID, what, ref string) error {
	switch what {
	case "model", "dataset", "calib":
		return s.setRun(ctx, runID, what, ref)
	}
	return fmt.Errorf("%w: run reference %q (model, dataset or calib)", ErrInvalid, what)
}

func (s *Store) setRun(ctx context.Context, runID, col string, v any) error {
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET `+col+` = ?, updated = ? WHERE id = ?`,
		v, s.now().UnixNano(), runID)
	if err != nil {
		return fmt.Errorf("set %s of run %q: %w", col, runID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set %s of run %q: %w", col, runID, err)
	} else if n == 0 {
		return fmt.Errorf("%w: no run %q", ErrNotFound, runID)
	}
	return nil
}

// RunningSteps returns every step still marked running, in run creation and
// pipeline order. At start-up nothing of this process runs yet, so these are
// steps a previous process left behind: reattach to their Job, or mark them
// failed (UpdateStep) as interrupted.
func (s *Store) RunningSteps(ctx context.Context) ([]Step, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT r.id, `+stepCols+` FROM steps s JOIN runs r ON r.seq = s.run_seq
		WHERE s.status = 'running' ORDER BY s.run_seq, s.position`)
	if err != nil {
		return nil, fmt.Errorf("running steps: %w", err)
	}
	defer rows.Close()
	var out []Step
	var runID string
	ss := newStepScanner(&runID)
	for rows.Next() {
		st, err := ss.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("running steps: %w", err)
		}
		st.RunID = runID
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("running steps: %w", err)
	}
	return out, nil
}

// ResetSteps sets the step named from and every later step of the run back to
// pending, clearing their error, times and job (the attempt counters stay),
// so that a failed step can be re-run without redoing the finished ones
// before it. It returns the updated run. An unknown run or step is
// ErrNotFound; a running step among them is ErrConflict (cancel it first).
// The run's Metrics and Installed are left alone.
func (s *Store) ResetSteps(ctx context.Context, runID, from string) (Run, error) {
	var r Run
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, seq, err := getRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		pos := -1
		for i, st := range cur.Steps {
			if st.Name == from {
				pos = i
			}
			if pos >= 0 && st.Status == StatusRunning {
				return fmt.Errorf("%w: step %q of run %q is running: cancel it before resetting", ErrConflict, st.Name, runID)
			}
		}
		if pos < 0 {
			return stepNotFound(ctx, tx, runID, from)
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, `UPDATE steps SET status = 'pending', error = '', job = '',
			started = NULL, finished = NULL, updated = ? WHERE run_seq = ? AND position >= ?`,
			now.UnixNano(), seq, pos); err != nil {
			return err
		}
		r, err = touchRun(ctx, tx, runID, now)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
			return Run{}, err
		}
		return Run{}, fmt.Errorf("reset run %q from step %q: %w", runID, from, err)
	}
	return r, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
)

// CreateProject creates a project. The name must be unique (ErrConflict
// otherwise), non-empty, at most MaxNameLen characters, without control
// characters or surrounding spaces (ErrInvalid).
func (s *Store) CreateProject(ctx context.Context, name string) (Project, error) {
	if err := checkName("project", name, "prj_"); err != nil {
		return Project{}, err
	}
	p := Project{ID: newID("prj_"), Name: name, Created: s.now()}
	_, err := s.w.ExecContext(ctx, `INSERT INTO projects (id, name, created) VALUES (?, ?, ?)`,
		p.ID, p.Name, p.Created.UnixNano())
	if isUnique(err) {
		return Project{}, fmt.Errorf("%w: a project named %q exists already", ErrConflict, name)
	}
	if err != nil {
		return Project{}, fmt.Errorf("create project %q: %w", name, err)
	}
	p.Created = fromNanos(p.Created.UnixNano())
	return p, nil
}

const projectCols = `id, name, created`

func scanProject(sc interface{ Scan(...any) error }) (Project, error) {
	var p Project
	var created int64
	if err := sc.Scan(&p.ID, &p.Name, &created); err != nil {
		return Project{}, err
	}
	p.Created = fromNanos(created)
	return p, nil
}

// GetProject returns the project with that ID or, failing that, that name.
func (s *Store) GetProject(ctx context.Context, idOrName string) (Project, error) {
	p, err := getProject(ctx, s.r, idOrName)
	if err != nil {
		return Project{}, err
	}
	return p, nil
}

func getProject(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, idOrName string) (Project, error) {
	p, err := scanProject(q.QueryRowContext(ctx,
		`SELECT `+projectCols+` FROM projects WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return Project{}, fmt.Errorf("%w: no project %q (see the project list)", ErrNotFound, idOrName)
	}
	if err != nil {
		return Project{}, fmt.Errorf("get project %q: %w", idOrName, err)
	}
	return p, nil
}

// ListProjects returns all projects, oldest first.
func (s *Store) ListProjects(ctx context.Context) ([]Project, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+projectCols+` FROM projects ORDER BY created, rowid`)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	var out []Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// AddDevice registers a device. ID and Created are assigned; the name must be
// unique (ErrConflict) and valid like a project name; Kind must be local,
// docker or ssh (ErrInvalid).
func (s *Store) AddDevice(ctx context.Context, d Device) (Device, error) {
	if err := checkName("device", d.Name, "dev_"); err != nil {
		return Device{}, err
	}
	switch d.Kind {
	case KindLocal, KindDocker, KindSSH:
	default:
		return Device{}, fmt.Errorf("%w: device %q: kind %q: use local, docker or ssh", ErrInvalid, d.Name, d.Kind)
	}
	switch {
	case d.CPUs < 0 || math.IsNaN(d.CPUs) || math.IsInf(d.CPUs, 0):
		return Device{}, fmt.Errorf("%w: device %q: cpus %v: give a number >= 0 (0 = no limit)", ErrInvalid, d.Name, d.CPUs)
	case d.MemoryBytes < 0 || d.StorageBytes < 0:
		return Device{}, fmt.Errorf("%w: device %q: memory and storage must be >= 0 (0 = no limit)", ErrInvalid, d.Name)
	case d.Port < 0 || d.Port > 65535:
		return Device{}, fmt.Errorf("%w: device %q: port %d is out of range 0-65535", ErrInvalid, d.Name, d.Port)
	}
	d.ID = newID("dev_")
	d.Created = fromNanos(s.now().UnixNano())
	_, err := s.w.ExecContext(ctx, `INSERT INTO devices
		(id, name, kind, arch, cpus, memory_bytes, storage_bytes, host, ssh_user, port, key_path, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.Name, d.Kind, d.Arch, d.CPUs, d.MemoryBytes, d.StorageBytes, d.Host, d.User, d.Port, d.KeyPath,
		d.Created.UnixNano())
	if isUnique(err) {
		return Device{}, fmt.Errorf("%w: a device named %q exists already", ErrConflict, d.Name)
	}
	if err != nil {
		return Device{}, fmt.Errorf("add device %q: %w", d.Name, err)
	}
	return d, nil
}

const deviceCols = `id, name, kind, arch, cpus, memory_bytes, storage_bytes, host, ssh_user, port, key_path, created`

func scanDevice(sc interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var created int64
	if err := sc.Scan(&d.ID, &d.Name, &d.Kind, &d.Arch, &d.CPUs, &d.MemoryBytes, &d.StorageBytes,
		&d.Host, &d.User, &d.Port, &d.KeyPath, &created); err != nil {
		return Device{}, err
	}
	d.Created = fromNanos(created)
	return d, nil
}

// GetDevice returns the device with that name (or ID).
func (s *Store) GetDevice(ctx context.Context, name string) (Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx,
		`SELECT `+deviceCols+` FROM devices WHERE name = ?1 OR id = ?1 ORDER BY name = ?1 DESC LIMIT 1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, fmt.Errorf("%w: no device %q (register it with device add)", ErrNotFound, name)
	}
	if err != nil {
		return Device{}, fmt.Errorf("get device %q: %w", name, err)
	}
	return d, nil
}

// ListDevices returns all devices, oldest first.
func (s *Store) ListDevices(ctx context.Context) ([]Device, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices ORDER BY created, rowid`)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

package store

import "time"

// Step and run statuses: the seed service's words.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusGenerated = "generated" // done
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Device kinds.
const (
	KindLocal  = "local"
	KindDocker = "docker"
	KindSSH    = "ssh"
)

// ValidStatus reports whether s is one of the five status words.
func ValidStatus(s string) bool {
	switch s {
	case StatusPending, StatusRunning, StatusGenerated, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Project groups runs. Name is unique.
type Project struct {
	ID      string
	Name    string
	Created time.Time
}

// Device is a registered target a run installs on and infers on. Name is
// unique; runs refer to a device by name.
type Device struct {
	ID           string
	Name         string
	Kind         string // local | docker | ssh
	Arch         string
	CPUs         float64
	MemoryBytes  int64
	StorageBytes int64
	Host         string
	User         string
	Port         int
	KeyPath      string
	Created      time.Time
}

// Run is one model × dataset × technique × device combination of a project.
type Run struct {
	ID        string
	ProjectID string
	Model     string // reference: a local path or hf://...
	Dataset   string
	Calib     string
	Technique string // compression spec text, e.g. "prune(sparsity=0.5) | int8-static"
	Device    string // device name
	Toolchain string // optional custom compile image
	Status    string // derived from Steps, see RunStatus
	Created   time.Time
	Updated   time.Time
	Metrics   []byte // JSON, nil until known
	Installed string // what install produced, e.g. an image reference
	Steps     []Step // in pipeline order
}

// Step is one pipeline step of a run.
type Step struct {
	RunID    string
	Name     string
	Status   string
	Started  time.Time
	Finished time.Time
	Error    string
	Attempt  int
	Job      string // runner handle (pid, container id) for reattaching
	Updated  time.Time
}

// Step returns the run's step with the given name, and whether it exists.
func (r Run) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// RunStatus derives a run's status from its steps, checking in this order:
//
//  1. any step running → running
//  2. any step failed → failed
//  3. any step canceled → canceled
//  4. every step generated (and at least one step) → generated
//  5. otherwise (steps pending, possibly after generated ones) → pending
//
// So a run is "running" while any of its jobs is live, even if another step
// already failed; a failure outranks a cancellation; and a run whose failed
// step was reset (ResetSteps) is "pending" again.
func RunStatus(steps []Step) string {
	var failed, canceled bool
	generated := 0
	for _, s := range steps {
		switch s.Status {
		case StatusRunning:
			return StatusRunning
		case StatusFailed:
			failed = true
		case StatusCanceled:
			canceled = true
		case StatusGenerated:
			generated++
		}
	}
	switch {
	case failed:
		return StatusFailed
	case canceled:
		return StatusCanceled
	case len(steps) > 0 && generated == len(steps):
		return StatusGenerated
	}
	return StatusPending
}

// ListFilter selects runs for ListRuns. Zero fields do not filter.
type ListFilter struct {
	ProjectID string // a project ID (resolve a name with GetProject first)
	Status    string // the run's status
	Limit     int    // at most this many runs (the oldest first); 0 = all
}

// StepUpdate is a change to one step, applied by UpdateStep.
type StepUpdate struct {
	// Status is the new status; "" keeps the current one. Setting any status
	// replaces Error with the Error below (so "running" clears an old error);
	// setting running or pending also clears Finished unless Finished is given.
	Status string
	// Error is why the step failed. Written when Status is set, or when
	// non-empty.
	Error string
	// Job is the runner's handle for the step's job; written when non-empty.
	Job string
	// Started and Finished are written when non-zero.
	Started, Finished time.Time
	// IncAttempt adds one to the step's attempt counter.
	IncAttempt bool
}

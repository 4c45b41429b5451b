package hf

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is; the errors returned say what to do next.
var (
	// ErrBadRef marks a malformed hf:// reference.
	ErrBadRef = errors.New("malformed Hugging Face reference")
	// ErrRepoNotFound: the repository does not exist, or it is private and the token (if any)
	// cannot read it. The Hub answers the same to both so as not to reveal private names.
	ErrRepoNotFound = errors.New("repository not found")
	// ErrGated: the repository is gated and the account (if any) has not been granted access.
	ErrGated = errors.New("gated repository")
	// ErrUnauthorized: the Hub refused the token itself (invalid or expired).
	ErrUnauthorized = errors.New("invalid Hugging Face token")
	// ErrForbidden: the token is valid but lacks the permission.
	ErrForbidden = errors.New("access forbidden")
	// ErrRevisionNotFound: no such branch, tag or commit.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrEntryNotFound: no such file at the revision.
	ErrEntryNotFound = errors.New("file not found in the repository")
	// ErrOffline: offline mode is on and what was asked is not in the cache.
	ErrOffline = errors.New("not in the Hugging Face cache (offline mode)")
	// ErrUnreachable: the Hub could not be reached (network, 5xx, rate limit) and the cache
	// holds nothing to fall back on.
	ErrUnreachable = errors.New("the Hugging Face Hub cannot be reached")
	// ErrTooLarge: a file is bigger than the client's size limit.
	ErrTooLarge = errors.New("file too large")
	// ErrIntegrity: what was downloaded does not match the size or hash the Hub announced.
	ErrIntegrity = errors.New("download does not match the Hub's checksum")
	// ErrNoFile: a reference names no file and the repository holds no suitable one.
	ErrNoFile = errors.New("no suitable file in the repository")
	// ErrAmbiguous: a reference names no file and the repository holds several candidates.
	ErrAmbiguous = errors.New("several candidate files in the repository")
)

// Error is an answer of the Hub that is not a success, explained.
type Error struct {
	Kind    error  // one of the sentinels above (Unwrap returns it)
	Repo    Repo   // the repository concerned, when known
	Status  int    // HTTP status
	Code    string // the Hub's X-Error-Code header (RepoNotFound, GatedRepo, ...), if any
	Message string // the Hub's own message (X-Error-Message or the body's "error"), if any
	URL     string // the request's URL
	Hint    string // what to do next
}

func (e *Error) Error() string {
	s := e.Hint
	if s == "" {
		s = e.Kind.Error()
	}
	if e.Repo.ID != "" {
		s = e.Repo.String() + ": " + s
	}
	detail := fmt.Sprintf("HTTP %d", e.Status)
	if e.Code != "" {
		detail += " " + e.Code
	}
	if e.Message != "" {
		detail += ": " + e.Message
	}
	return s + " (" + detail + ")"
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

package tinyml

import (
	"context"
	"sync"
	"time"
)

// Event is a step status change.
type Event struct {
	Run     string    `json:"run"`
	Project string    `json:"project"`
	Step    StepName  `json:"step"`
	Status  Status    `json:"status"`
	Error   string    `json:"error,omitempty"`
	Time    time.Time `json:"time"`
}

// Subscribe streams step status changes of a project (all projects when project is "") until
// ctx ends. A subscriber that falls more than 1024 events behind misses the excess; the store
// always has the current state.
func (s *Studio) Subscribe(ctx context.Context, project string) <-chan Event {
	return s.events.subscribe(ctx, project)
}

type broker struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	project string
	ch      chan Event
}

func newBroker() *broker { return &broker{subs: map[*subscriber]struct{}{}} }

func (b *broker) subscribe(ctx context.Context, project string) <-chan Event {
	sub := &subscriber{project: project, ch: make(chan Event, 1024)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(sub.ch)
		return sub.ch
	}
	b.subs[sub] = struct{}{}
	context.AfterFunc(ctx, func() { b.drop(sub) })
	return sub.ch
}

func (b *broker) drop(sub *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[sub]; ok {
		delete(b.subs, sub)
		close(sub.ch)
	}
}

func (b *broker) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		if sub.project != "" && sub.project != e.Project {
			continue
		}
		select {
		case sub.ch <- e:
		default: // a slow subscriber must not stall pipelines
		}
	}
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for sub := range b.subs {
		delete(b.subs, sub)
		close(sub.ch)
	}
}

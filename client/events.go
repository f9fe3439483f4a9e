package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/mpship/mpship/manifests"
)

// EventKind names an update-manager event (rule 6).
type EventKind string

// Update-manager events, in the order a check emits them.
const (
	// EventCheckForUpdate: the check knows whether there is a version
	// newer than the running one (HasUpdate).
	EventCheckForUpdate EventKind = "check_for_update"
	// EventUpdateReady: the new version is downloaded, verified and
	// installed as ready (Version); ApplyUpdate restarts into it.
	EventUpdateReady EventKind = "update_ready"
	// EventUpdateFailed: the update could not be made ready (Err): the
	// download failed or was deferred, or the check itself failed before
	// it could tell whether there is an update.
	EventUpdateFailed EventKind = "update_failed"
)

// Event is one update-manager event. It is plain data.
type Event struct {
	Kind EventKind
	// HasUpdate is set for EventCheckForUpdate.
	HasUpdate bool
	// Version is the ready version, for EventUpdateReady.
	Version string
	// Err is the failure, for EventUpdateFailed; ErrorCode names it.
	Err error
}

// UpdateManager is a mini program's view of its updates (rule 6), what a
// JavaScript host exposes as getUpdateManager(). Get one with
// Runtime.UpdateManager; there is one per app and Runtime, and it lives as
// long as the Runtime. It is safe for concurrent use.
//
// # Events
//
// Every cold start begins a new run of the mini program, and the check it
// runs (before or after it starts) emits exactly one of these sequences,
// in this order:
//
//	check_for_update(false)                   nothing newer than what runs
//	check_for_update(true), update_ready      downloaded, ApplyUpdate applies it
//	check_for_update(true), update_failed     download failed or deferred
//	update_failed                             the check failed before it knew
//
// A first install, and a synchronous launch that starts the new version,
// report check_for_update(false): what runs is the newest. A simulated
// update (rule 7) reports check_for_update(true) then update_ready. A warm
// start continues the current run; ApplyUpdate starts a new run without a
// check; an offline cold start, or one whose check Policy.NoColdStartCheck
// turns off, starts a run without a check: these emit nothing. Periodic
// background checks emit nothing either: no run of the mini program waits
// for them; they mark it instead (rule 2). A first install that fails
// starts nothing and emits nothing.
//
// Handlers are called on an event goroutine of this manager, one at a
// time, in the order the events happened, never on the goroutine that
// registered them or that called Launch. A handler registered after an
// event of the current run was emitted is called once for it right away
// (on the event goroutine), so registering before or after Launch makes no
// difference. Handlers stay registered for the Runtime's life and receive
// the events of later runs too; events of a run superseded by a newer
// Launch of the same app are not delivered. A handler may call
// ApplyUpdate; a handler that blocks delays later events of this app and
// Runtime.Wait and Close.
type UpdateManager struct {
	r   *Runtime
	app string

	mu       sync.Mutex
	onCheck  []func(hasUpdate bool)
	onReady  []func()
	onFailed []func(error)
	cur      *session // the current run; nil before the first launch
	queue    []func()
	running  bool // an event goroutine is draining queue
}

// session is one run of a mini program: the events of its check. Its
// fields are guarded by the manager's mu.
type session struct {
	m      *UpdateManager
	events []Event
	// simulated: rule 7; ApplyUpdate restarts into the installed version.
	simulated bool
	// hold buffers events in held instead of emitting them, while a
	// synchronous launch decides what the run will see.
	hold    bool
	held    []Event
	checked bool // check_for_update was emitted
	done    bool // the sequence is complete
}

// UpdateManager returns app's update manager. It fails only for an
// invalid app id.
func (r *Runtime) UpdateManager(app string) (*UpdateManager, error) {
	if err := manifests.ValidateApp(app); err != nil {
		return nil, fmt.Errorf("update manager: %w", err)
	}
	return r.manager(app), nil
}

func (r *Runtime) manager(app string) *UpdateManager {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.managers[app]
	if !ok {
		m = &UpdateManager{r: r, app: app}
		r.managers[app] = m
	}
	return m
}

// OnCheckForUpdate registers f for EventCheckForUpdate.
func (m *UpdateManager) OnCheckForUpdate(f func(hasUpdate bool)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onCheck = append(m.onCheck, f)
	m.replay(EventCheckForUpdate, func(e Event) func() { return func() { f(e.HasUpdate) } })
}

// OnUpdateReady registers f for EventUpdateReady.
func (m *UpdateManager) OnUpdateReady(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onReady = append(m.onReady, f)
	m.replay(EventUpdateReady, func(Event) func() { return f })
}

// OnUpdateFailed registers f for EventUpdateFailed.
func (m *UpdateManager) OnUpdateFailed(f func(error)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onFailed = append(m.onFailed, f)
	m.replay(EventUpdateFailed, func(e Event) func() { return func() { f(e.Err) } })
}

// ApplyUpdate restarts the mini program into the ready version: the ready
// version is installed and launched (ModeApply) without a check. After a
// simulated update (rule 7) it restarts into the installed version and
// changes nothing on disk. With no update ready it returns an error
// wrapping ErrNoUpdate.
func (m *UpdateManager) ApplyUpdate(ctx context.Context) (*LaunchResult, error) {
	m.mu.Lock()
	simulated := m.cur != nil && m.cur.simulated
	m.mu.Unlock()
	res, err := m.r.apply(ctx, m.app, simulated)
	if err == nil {
		m.begin(false)
	}
	return res, err
}

// replay queues, for a handler just registered, the current run's events
// of kind. The caller holds m.mu.
func (m *UpdateManager) replay(kind EventKind, call func(Event) func()) {
	if m.cur == nil {
		return
	}
	for _, e := range m.cur.events {
		if e.Kind == kind {
			m.enqueue(call(e))
		}
	}
}

// begin starts a new run of the mini program and returns it.
func (m *UpdateManager) begin(simulated bool) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &session{m: m, simulated: simulated}
	m.cur = s
	return s
}

// enqueue runs f on the manager's event goroutine, starting it if none
// runs. The caller holds m.mu.
func (m *UpdateManager) enqueue(f func()) {
	m.queue = append(m.queue, f)
	if m.running {
		return
	}
	m.running = true
	tracked := m.r.trackEvents()
	go m.drain(tracked)
}

func (m *UpdateManager) drain(tracked bool) {
	if tracked {
		defer m.r.untrack()
	}
	for {
		m.mu.Lock()
		if len(m.queue) == 0 {
			m.running = false
			m.mu.Unlock()
			return
		}
		f := m.queue[0]
		m.queue[0] = nil
		m.queue = m.queue[1:]
		m.mu.Unlock()
		f()
	}
}

// emit records e in the run and delivers it to the handlers, enforcing the
// sequences documented on UpdateManager: events that would break them are
// dropped.
func (s *session) emit(e Event) {
	if s == nil {
		return
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.hold {
		s.held = append(s.held, e)
		return
	}
	s.emitLocked(e)
}

func (s *session) emitLocked(e Event) {
	if s.done {
		return
	}
	switch e.Kind {
	case EventCheckForUpdate:
		if s.checked {
			return
		}
		s.checked = true
		s.done = !e.HasUpdate
	case EventUpdateReady, EventUpdateFailed:
		s.done = true
	}
	s.events = append(s.events, e)
	m := s.m
	if m.cur != s {
		return
	}
	switch e.Kind {
	case EventCheckForUpdate:
		for _, f := range m.onCheck {
			m.enqueue(func() { f(e.HasUpdate) })
		}
	case EventUpdateReady:
		for _, f := range m.onReady {
			m.enqueue(f)
		}
	case EventUpdateFailed:
		for _, f := range m.onFailed {
			m.enqueue(func() { f(e.Err) })
		}
	}
}

// holdEvents makes the run buffer events until releaseEvents or
// replaceEvents.
func (s *session) holdEvents() {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.hold = true
}

// releaseEvents emits the buffered events and stops buffering.
func (s *session) releaseEvents() {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.hold = false
	for _, e := range s.held {
		s.emitLocked(e)
	}
	s.held = nil
}

// replaceEvents drops the buffered events, emits es instead, and stops
// buffering.
func (s *session) replaceEvents(es ...Event) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.hold = false
	s.held = nil
	for _, e := range es {
		s.emitLocked(e)
	}
}

// snapshot returns the run's events so far.
func (s *session) snapshot() []Event {
	if s == nil {
		return nil
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// checkedUpdate emits check_for_update.
func (s *session) checkedUpdate(hasUpdate bool) {
	s.emit(Event{Kind: EventCheckForUpdate, HasUpdate: hasUpdate})
}

// finish emits the end of the sequence for a check's result.
func (s *session) finish(res *CheckResult) {
	switch {
	case s == nil:
	case res.Err != nil:
		s.emit(Event{Kind: EventUpdateFailed, Err: res.Err})
	case !res.HasUpdate:
		s.emit(Event{Kind: EventCheckForUpdate, HasUpdate: false})
	case res.Deferred:
		s.emit(Event{Kind: EventUpdateFailed, Err: fmt.Errorf("update %s to %s: %w", res.App, res.LatestVersion, ErrDeferred)})
	case res.ReadyVersion != "":
		s.emit(Event{Kind: EventUpdateReady, Version: res.ReadyVersion})
	default:
		// A newer check took over; this one made nothing ready.
		s.emit(Event{Kind: EventUpdateFailed, Err: fmt.Errorf("update %s to %s: %w: superseded by a newer check", res.App, res.LatestVersion, ErrNoUpdate)})
	}
}

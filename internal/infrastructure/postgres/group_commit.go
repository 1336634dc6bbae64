package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/settings"
)

// Group commit: concurrent Appends share one transaction and one COMMIT —
// one WAL flush, one commit round trip and one relay wake-up for the lot —
// while each keeps its own outcome.
//
//   - A batch first runs without savepoints: usually no member fails, and a
//     savepoint costs a statement and a subtransaction per member. If one
//     fails, that attempt is rolled back whole and the batch runs again
//     with each commit inside a SAVEPOINT of its own. When one of its
//     statements fails (a version conflict, a duplicate request id, bad
//     data) or its projection check fails, the transaction rolls back to
//     that savepoint, the commit gets its own error, and the commits after
//     it are sent again: nobody else's events are dropped.
//   - Outcomes are handed out only after the shared COMMIT answered. A
//     commit that lost to a batch-mate (same order version, same request
//     id) is told so only once the winner is committed, so its retry or
//     replay sees the winner. If the COMMIT fails, every member fails with
//     ErrUnavailable: none is told "success" unless its rows are committed.
//   - A commit whose context ended while it waited is left out of the
//     batch. The batch itself runs until the latest deadline among its
//     members; a member whose own deadline passes first stops waiting and
//     gets its context's error (its outcome is then unknown, as it is for a
//     single commit cancelled during COMMIT).
//   - Members are sorted by order id, so two batches in flight take their
//     row and key locks in the same order and cannot deadlock each other on
//     them. A shared transaction waits at most sharedLockTimeout for a lock:
//     a member blocked longer (by a transaction outside the batch holding its
//     order's row, or a duplicate request id racing across batches) or
//     caught in a deadlock is rolled back to its savepoint and goes on
//     alone, on a connection of its own, through the single-commit path. It
//     then waits for the lock until its own deadline, as an ungrouped
//     command would, while its batch-mates and the flushers carry on: one
//     blocked order never holds up another's commands.
//   - A commit that arrives while no batch is waiting is flushed at once,
//     alone, through the single-commit path (no savepoint): batches form
//     only when commits queue up behind busy flushers, so group commit adds
//     no latency at low load.
//   - Batches hold at most 64 commits: PostgreSQL caches 64 subtransaction
//     ids per backend, and an overflowed cache slows every snapshot in the
//     cluster.

// GroupCommitConfig tunes group commit.
type GroupCommitConfig struct {
	// MaxBatch bounds the commits sharing one transaction, 1 to 64.
	// 1 turns group commit off: every Append commits alone.
	MaxBatch int
	// Flushers bounds the batches in flight at once, each on a connection
	// of its own. More flushers overlap more commits; fewer make bigger
	// batches.
	Flushers int
	// Window is how long a flusher waits for more commits once the first
	// arrived, unless MaxBatch are already waiting. 0 (the default) flushes
	// at once: batches then form only from commits that queued while the
	// flushers were busy.
	Window time.Duration
}

// DefaultGroupCommitConfig is what NewStore uses unless told otherwise:
// batches of up to 32, 2 in flight, no window. Measured on 2 cores
// (docs/BENCHMARKS.md): 2 flushers keep PostgreSQL's two cores busy while
// commits queue into batches behind them.
func DefaultGroupCommitConfig() GroupCommitConfig {
	return GroupCommitConfig{MaxBatch: 32, Flushers: 2}
}

// MaxGroupCommit bounds GroupCommitConfig.MaxBatch: PostgreSQL's
// PGPROC_MAX_CACHED_SUBXIDS.
const MaxGroupCommit = 64

// Validate refuses settings no deployment means: negative sizes or window,
// batches above MaxGroupCommit. Zero fields keep the defaults.
func (c GroupCommitConfig) Validate() error {
	errs := batching(c.MaxBatch, MaxGroupCommit, c.Flushers)
	errs = append(errs, settings.NegativeDurations(settings.Duration{Name: "window", Value: c.Window})...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("group commit config: %w", err)
	}
	return nil
}

// batching judges the settings group commit and grouped reads share.
func batching(maxBatch, limit, flushers int) []error {
	var errs []error
	if maxBatch < 0 || maxBatch > limit {
		errs = append(errs, fmt.Errorf("max batch %d: want 1 to %d (0 for the default)", maxBatch, limit))
	}
	if flushers < 0 {
		errs = append(errs, fmt.Errorf("flushers %d: must not be negative", flushers))
	}
	return errs
}

// Option configures a Store.
type Option func(*storeOptions)

type storeOptions struct {
	commits GroupCommitConfig
	reads   GroupReadConfig
}

// WithGroupCommit sets how concurrent Appends share transactions. Fields
// left zero keep the defaults (DefaultGroupCommitConfig); MaxBatch 1 turns
// group commit off. cfg should pass Validate: NewStore cannot fail, so
// out-of-range values are clamped to the nearest valid one.
func WithGroupCommit(cfg GroupCommitConfig) Option {
	return func(o *storeOptions) {
		if cfg.MaxBatch != 0 {
			o.commits.MaxBatch = cfg.MaxBatch
		}
		if cfg.Flushers != 0 {
			o.commits.Flushers = cfg.Flushers
		}
		if cfg.Window != 0 {
			o.commits.Window = cfg.Window
		}
	}
}

// WithoutGroupCommit makes every Append commit alone.
func WithoutGroupCommit() Option {
	return func(o *storeOptions) { o.commits.MaxBatch = 1 }
}

// GroupCommitStats counts what group commit did since the store was made.
type GroupCommitStats struct {
	Batches int64 // transactions committed (or attempted) for queued commits
	Commits int64 // commits flushed in them
	Largest int64 // the most commits one transaction held
	Retried int64 // commits that went on alone after a deadlock or lock timeout
}

// GroupCommitStats reports the counters; zero when group commit is off.
func (s *OrderStore) GroupCommitStats() GroupCommitStats {
	if s.group == nil {
		return GroupCommitStats{}
	}
	g := s.group
	return GroupCommitStats{
		Batches: g.batches.Load(), Commits: g.commits.Load(), Largest: g.largest.Load(), Retried: g.retried.Load(),
	}
}

// groupCommitter queues Appends and flushes them in shared transactions.
type groupCommitter struct {
	store *OrderStore
	queue *batchQueue[*member]

	batches, commits, largest, retried atomic.Int64
}

// member is one queued commit.
type member struct {
	ctx    context.Context
	commit application.Commit
	stmts  []statement
	done   chan error // buffered: the flusher never blocks on a caller that left
}

func newGroupCommitter(s *OrderStore, cfg GroupCommitConfig) *groupCommitter {
	cfg.MaxBatch = min(max(cfg.MaxBatch, 1), MaxGroupCommit)
	if cfg.MaxBatch == 1 {
		return nil
	}
	g := &groupCommitter{store: s}
	g.queue = newBatchQueue(cfg.MaxBatch, cfg.Flushers, cfg.Window, g.flush, func(m *member) bool {
		if err := m.ctx.Err(); err != nil {
			m.done <- appendError(m.commit, err)
			return true
		}
		return false
	})
	return g
}

// append queues a commit and waits for its outcome or its context's end.
func (g *groupCommitter) append(ctx context.Context, c application.Commit, stmts []statement) error {
	if err := ctx.Err(); err != nil {
		return appendError(c, err)
	}
	m := &member{ctx: ctx, commit: c, stmts: stmts, done: make(chan error, 1)}
	g.queue.push(m)
	select {
	case err := <-m.done:
		return err
	case <-ctx.Done():
		select {
		case err := <-m.done: // the outcome is in after all: prefer it
			return err
		default:
		}
		// Still queued: the flusher will leave it out. Already sent: its
		// outcome is unknown, as for a single commit cancelled mid-COMMIT.
		return appendError(c, ctx.Err())
	}
}

// flush writes a batch: alone through the single-commit path, or shared.
func (g *groupCommitter) flush(batch []*member) {
	g.batches.Add(1)
	g.commits.Add(int64(len(batch)))
	for n, l := int64(len(batch)), g.largest.Load(); n > l && !g.largest.CompareAndSwap(l, n); l = g.largest.Load() {
	}
	if len(batch) == 1 {
		m := batch[0]
		m.done <- g.store.appendOne(m.ctx, m.commit, m.stmts)
		return
	}
	slices.SortStableFunc(batch, func(a, b *member) int { return bytes.Compare(a.commit.OrderID[:], b.commit.OrderID[:]) })
	outcomes, retry := g.store.appendShared(batch)
	for i, m := range batch {
		if !retry[i] {
			m.done <- outcomes[i]
			continue
		}
		g.retried.Add(1)
		go func() { m.done <- g.store.appendOne(m.ctx, m.commit, m.stmts) }()
	}
}

// sharedLockTimeout bounds how long a shared transaction waits for a lock:
// long enough for a batch-mate's row lock on a busy order to clear, short
// enough that a lock held outside the batch cannot stall it.
const sharedLockTimeout = 100 * time.Millisecond

var setSharedLockTimeout = fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", sharedLockTimeout.Milliseconds())

// The savepoint statements, one per position in a batch.
var (
	savepointSQL  = savepointStatements("SAVEPOINT gc_")
	rollbackToSQL = savepointStatements("ROLLBACK TO SAVEPOINT gc_")
)

func savepointStatements(prefix string) []string {
	out := make([]string, MaxGroupCommit)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// memberFailure is the first member of a pipeline that failed.
type memberFailure struct {
	index int
	err   error
	retry bool // a deadlock or lock timeout: worth another try
}

// appendShared writes the batch in one transaction and returns each
// member's outcome, and which members to retry in a later batch.
func (s *OrderStore) appendShared(batch []*member) (outcomes []error, retry []bool) {
	outcomes, retry = make([]error, len(batch)), make([]bool, len(batch))
	ctx, cancel := sharedContext(batch, func(m *member) context.Context { return m.ctx })
	defer cancel()
	failAll := func(err error) ([]error, []bool) {
		for i, m := range batch {
			outcomes[i], retry[i] = appendError(m.commit, err), false
		}
		return outcomes, retry
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return failAll(err)
	}
	defer conn.Release()

	// First try without savepoints: most batches have no failing member,
	// and a savepoint costs a statement and a subtransaction per member.
	// When a member fails, the attempt is rolled back as a whole and the
	// batch runs again with a savepoint per member.
	failure, err := runMembers(ctx, conn, batch, 0, false)
	switch {
	case errors.As(err, new(pgx.ErrPreprocessingBatch)):
		// Nothing ran (an argument pgx cannot encode, a statement the
		// server cannot prepare): no member can be blamed, so each runs
		// alone and gets its own outcome.
		conn.Release()
		for i, m := range batch {
			outcomes[i] = s.appendOne(m.ctx, m.commit, m.stmts)
		}
		return outcomes, retry
	case err != nil:
		rollback(ctx, conn)
		return failAll(err)
	case failure == nil:
		return s.commitShared(ctx, conn, batch, outcomes, retry)
	}
	if err := conn.Conn().PgConn().Exec(ctx, "ROLLBACK").Close(); err != nil {
		return failAll(err)
	}

	succeeded := 0
	for start := 0; start < len(batch); {
		failure, err := runMembers(ctx, conn, batch, start, true)
		switch {
		case err != nil:
			rollback(ctx, conn)
			return failAll(err)
		case failure == nil:
			succeeded += len(batch) - start
			start = len(batch)
			continue
		}
		i := failure.index
		succeeded += i - start
		if failure.retry {
			retry[i] = true
		} else {
			outcomes[i] = appendError(batch[i].commit, failure.err)
		}
		// Undo the member (and, after a failed check, the members sent
		// after it), then send the rest again. The simple protocol runs
		// even in an aborted transaction; a prepared statement might not.
		if err := conn.Conn().PgConn().Exec(ctx, rollbackToSQL[i]).Close(); err != nil {
			rollback(ctx, conn)
			return failAll(err)
		}
		start = i + 1
	}
	if succeeded == 0 {
		rollback(ctx, conn)
		return outcomes, retry
	}
	return s.commitShared(ctx, conn, batch, outcomes, retry)
}

// commitShared commits the shared transaction. If the COMMIT fails, every
// member fails with ErrUnavailable, whatever its own outcome was: none was
// committed, and a member that lost to a batch-mate lost to rows that are
// not there.
func (s *OrderStore) commitShared(ctx context.Context, conn *pgxpool.Conn, batch []*member, outcomes []error, retry []bool) ([]error, []bool) {
	if err := commitAndNotify(ctx, conn); err != nil {
		for i, m := range batch {
			outcomes[i], retry[i] = fmt.Errorf("append order %s: shared commit failed: %w: %w", m.commit.OrderID, application.ErrUnavailable, err), false
		}
	}
	return outcomes, retry
}

// runMembers sends, in one pipeline, BEGIN (for the first round) and
// batch[start:], each in its savepoint when savepoints is set. It returns
// the first member that failed, or an error no member can be blamed for.
func runMembers(ctx context.Context, conn *pgxpool.Conn, batch []*member, start int, savepoints bool) (*memberFailure, error) {
	b := &pgx.Batch{}
	owner := make([]int, 0, 8*(len(batch)-start)) // queued statement → member, -1 for BEGIN and SAVEPOINT
	checks := make([]func(pgconn.CommandTag) error, 0, cap(owner))
	if start == 0 {
		b.Queue(beginSQL)
		b.Queue(setSharedLockTimeout)
		owner, checks = append(owner, -1, -1), append(checks, nil, nil)
	}
	for i := start; i < len(batch); i++ {
		if savepoints {
			b.Queue(savepointSQL[i])
			owner, checks = append(owner, -1), append(checks, nil)
		}
		for _, st := range batch[i].stmts {
			b.Queue(st.sql, st.args...)
			owner, checks = append(owner, i), append(checks, st.check)
		}
	}
	br := conn.SendBatch(ctx, b)
	var failure *memberFailure
	for q := range b.QueuedQueries {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			if f := blame(owner[q], err); f != nil {
				if failure == nil || f.index < failure.index {
					failure = f
				}
				return failure, nil
			}
			return nil, err
		}
		if failure == nil && checks[q] != nil {
			if err := checks[q](tag); err != nil {
				failure = &memberFailure{index: owner[q], err: err}
			}
		}
	}
	return failure, br.Close()
}

// blame returns the member failure an error of a member's statement is,
// or nil when the error belongs to the whole transaction or connection.
func blame(owner int, err error) *memberFailure {
	var pgErr *pgconn.PgError
	if owner < 0 || !errors.As(err, &pgErr) || pgErr.Severity != "ERROR" {
		return nil
	}
	switch {
	case pgErr.Code == "40P01" || pgErr.Code == "55P03" || pgErr.Code == "57014" || pgErr.Code == "40001":
		// deadlock, lock timeout, statement timeout, serialization failure
		return &memberFailure{index: owner, err: err, retry: true}
	case transientState(pgErr.Code), pgErr.Code == "25P02":
		// The connection or server is in trouble, or the transaction is
		// already aborted: that is everyone's failure, not this member's.
		return nil
	}
	return &memberFailure{index: owner, err: err}
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	// Registers the pure-Go "sqlite" database/sql driver.
	_ "modernc.org/sqlite"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// The ports and the relay source a Store serves.
var (
	_ application.EventStore       = (*EmbeddedStore)(nil)
	_ application.ReadModel        = (*EmbeddedStore)(nil)
	_ application.IdempotencyStore = (*EmbeddedStore)(nil)
	_ outbox.Source                = (*EmbeddedStore)(nil)
)

// EmbeddedStore is an open embedded database. It is safe for concurrent use; Close it
// when done.
type EmbeddedStore struct {
	db     *sql.DB
	lock   *fileLock
	logger *slog.Logger
	cfg    config
	// writer is a one-slot semaphore: the single in-process writer. Writers
	// queue here, in Go, instead of inside SQLite's busy handler, which would
	// poll the lock with sleeps and give up after busy_timeout.
	writer chan struct{}
	// alive ends when Close starts; relay leases end with it.
	alive     context.Context
	kill      context.CancelFunc
	signals   signals
	leases    leases
	closeOnce sync.Once
	closeErr  error
}

// config holds the knobs Open fixes; tests shorten them.
type config struct {
	// busyTimeout bounds how long a write waits for the writer slot and,
	// inside SQLite, for a lock; past it the write fails as unavailable.
	busyTimeout time.Duration
	// maxConns caps the pool: concurrent readers plus the one writer.
	maxConns int
}

func defaultConfig() config {
	return config{busyTimeout: 5 * time.Second, maxConns: 8}
}

// ErrInUse reports that another Store, in this or another process, has the
// database file open.
var ErrInUse = errors.New("sqlite database is in use by another process")

// Open opens the database file at path, creating it and its directory when
// missing, takes the exclusive lock file <path>.lock and brings the schema to
// the latest embedded migration. A nil logger discards log output.
func Open(ctx context.Context, path string, logger *slog.Logger) (*EmbeddedStore, error) {
	return open(ctx, path, logger, defaultConfig())
}

func open(ctx context.Context, path string, logger *slog.Logger, cfg config) (*EmbeddedStore, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := prepareDir(path); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	lock, err := acquireFileLock(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db, err := openDB(ctx, path, logger, cfg)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite store %s: %w", path, err), lock.release())
	}
	alive, kill := context.WithCancel(context.Background())
	return &EmbeddedStore{
		db: db, lock: lock, logger: logger, cfg: cfg,
		writer: make(chan struct{}, 1), alive: alive, kill: kill,
	}, nil
}

// prepareDir rejects paths the driver would misread and creates the directory.
func prepareDir(path string) error {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("path %q: want a plain file path", path)
	}
	// The driver splits its DSN at the first '?', so such a path cannot work.
	if strings.Contains(path, "?") {
		return fmt.Errorf("path %q: must not contain '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("create directory of %s: %w", path, err)
	}
	return nil
}

// openDB opens the pool, checks that the pragmas took and migrates.
func openDB(ctx context.Context, path string, logger *slog.Logger, cfg config) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, cfg))
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	db.SetMaxOpenConns(cfg.maxConns)
	db.SetMaxIdleConns(cfg.maxConns) // reopening a connection re-runs every pragma
	err = checkPragmas(ctx, db)
	if err == nil {
		err = migrate(ctx, db, logger)
	}
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// dsn sets the pragmas in the DSN rather than with one Exec after opening:
// most are per connection, and the driver applies the DSN to every connection
// the pool opens.
//
// Durability: journal_mode=WAL with synchronous=FULL, so the WAL is fsynced
// at every COMMIT and an acknowledged order survives a process crash and an
// OS crash or power loss alike. synchronous=NORMAL would also survive a
// process crash (the WAL sits in the OS page cache), but a power loss could
// roll back the newest commits, and the relay may already have published those
// events: the log would then reuse their (order, version) with different
// content, and consumers would hold two different events at one version. One
// fsync per commit is the price; it bounds the single writer's throughput.
//
// _txlock=immediate makes every read-write transaction BEGIN IMMEDIATE: it
// takes the write lock up front, so a transaction never fails halfway when it
// upgrades from reading to writing. Read-only transactions stay deferred.
func dsn(path string, cfg config) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// checkPragmas fails Open when SQLite quietly refused a setting the
// durability argument rests on (WAL is refused on some network file systems).
func checkPragmas(ctx context.Context, db *sql.DB) error {
	var mode string
	var synchronous, foreignKeys int
	row := db.QueryRowContext(ctx, `SELECT journal_mode, synchronous, foreign_keys
		FROM pragma_journal_mode, pragma_synchronous, pragma_foreign_keys`)
	if err := row.Scan(&mode, &synchronous, &foreignKeys); err != nil {
		return fmt.Errorf("read pragmas: %w", err)
	}
	const full = 2
	if !strings.EqualFold(mode, "wal") || synchronous != full || foreignKeys != 1 {
		return fmt.Errorf("pragmas not applied: journal_mode=%s synchronous=%d foreign_keys=%d, want wal, 2 (FULL), 1",
			mode, synchronous, foreignKeys)
	}
	return nil
}

// Close ends relay leases, closes the database (SQLite checkpoints the WAL
// into the main file) and only then releases the lock file, so no other
// process can open the file while this one still writes. It is idempotent.
func (s *EmbeddedStore) Close() error {
	s.closeOnce.Do(func() {
		s.kill()
		var errs []error
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close sqlite database: %w", err))
		}
		if err := s.lock.release(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/application/porttest"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/infrastructure/system"
)

func TestContract(t *testing.T) {
	porttest.Run(t, func(t *testing.T) porttest.Ports {
		s, _ := openTestStore(t)
		return porttest.Ports{Store: s, Read: s, Requests: s}
	})
}

func TestOpenCreatesDirectoryAndAppliesPragmasToEveryConnection(t *testing.T) {
	s, path := openTestStore(t)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	// Hold several connections at once so the pool must open distinct ones:
	// per-connection pragmas must be on each, not just the first.
	for i := range 3 {
		conn, err := s.db.Conn(t.Context())
		must(t, err)
		defer conn.Close()
		var mode string
		var synchronous, foreignKeys, busy int
		err = conn.QueryRowContext(t.Context(), `SELECT journal_mode, synchronous, foreign_keys, timeout
			FROM pragma_journal_mode, pragma_synchronous, pragma_foreign_keys, pragma_busy_timeout`).
			Scan(&mode, &synchronous, &foreignKeys, &busy)
		must(t, err)
		if mode != "wal" || synchronous != 2 || foreignKeys != 1 || busy != 5000 {
			t.Fatalf("connection %d: journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d, want wal 2 1 5000",
				i, mode, synchronous, foreignKeys, busy)
		}
	}
}

func TestSecondOpenOfTheSameFileFails(t *testing.T) {
	first, path := openTestStore(t)
	second, err := Open(t.Context(), path, nil)
	if !errors.Is(err, ErrInUse) {
		if second != nil {
			_ = second.Close()
		}
		t.Fatalf("second Open error = %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), path+".lock") {
		t.Fatalf("error %q should name the lock file and the holder's pid", err)
	}
	must(t, first.Close())
	again, err := Open(t.Context(), path, nil)
	must(t, err)
	must(t, again.Close())
}

func TestReopenKeepsOrdersHistoryRequestsAndCheckpoints(t *testing.T) {
	s, path := openTestStore(t)
	ctx := t.Context()
	cmds := newCommands(s)
	meta := application.CommandMeta{Actor: application.Actor{ID: "user-1", Role: application.RoleAdmin}, RequestID: "req-create"}
	created, err := cmds.CreateOrder(ctx, createOrder(meta, "user-1"))
	must(t, err)
	meta.RequestID = "req-confirm"
	confirmed, err := cmds.ConfirmOrder(ctx, application.ConfirmOrder{Meta: meta, OrderID: created.ID.String()})
	must(t, err)
	events, err := s.ReadAfter(ctx, outbox.Position{}, 100)
	must(t, err)
	last := events[len(events)-1]
	must(t, s.SaveCheckpoint(ctx, "kafka", last.Position))
	must(t, s.Park(ctx, events[0], "too large"))
	must(t, s.Close())

	s, err = Open(ctx, path, nil)
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	got, err := s.GetOrder(ctx, created.ID)
	must(t, err)
	if diff := got.Diff(confirmed); len(diff) > 0 {
		t.Fatalf("order after reopen differs: %v", diff)
	}
	history, err := s.Load(ctx, created.ID)
	must(t, err)
	if len(history) != 2 || !history[0].Header().OccurredAt.Equal(created.CreatedAt) {
		t.Fatalf("history after reopen: %d events, first at %v; want 2, first at %v", len(history), history[0].Header().OccurredAt, created.CreatedAt)
	}
	for _, req := range []struct {
		id      string
		version int
	}{{"req-create", 1}, {"req-confirm", 2}} {
		rec, found, err := s.FindRequest(ctx, "user-1", req.id)
		if err != nil || !found || rec.OrderID != created.ID || rec.Version != req.version {
			t.Fatalf("FindRequest(%s) after reopen = %+v, %v, %v", req.id, rec, found, err)
		}
	}
	cp, err := s.Checkpoint(ctx, "kafka")
	must(t, err)
	if cp != last.Position {
		t.Fatalf("checkpoint after reopen = %+v, want %+v", cp, last.Position)
	}
	if n, err := s.ParkedCount(ctx); err != nil || n != 1 {
		t.Fatalf("ParkedCount after reopen = %d, %v; want 1", n, err)
	}
	var applied int
	must(t, s.db.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied))
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	must(t, err)
	if applied != len(files) {
		t.Fatalf("goose history holds %d applied migrations after reopen, want %d", applied, len(files))
	}
}

// openTestStore opens a store in a directory Open must create.
func openTestStore(t *testing.T) (*EmbeddedStore, string) {
	t.Helper()
	return openTestStoreWith(t, defaultConfig())
}

func openTestStoreWith(t *testing.T, cfg config) (*EmbeddedStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "orders.db")
	s, err := open(t.Context(), path, nil, cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s, path
}

func newCommands(s *EmbeddedStore) *application.Commands {
	return application.NewCommands(s, s, system.Clock{}, system.UUIDv7{}, application.CommandsConfig{
		Origin: application.Origin{ServiceName: "order-service", CellID: "cell-test"}, MaxAttempts: 50,
	})
}

func createOrder(meta application.CommandMeta, user string) application.CreateOrder {
	return application.CreateOrder{
		Meta: meta, UserID: user, ShippingAddress: "1 Main St", Currency: "EUR",
		Items: []application.NewItem{{ProductID: "sku-0", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"}},
	}
}

// newFixture builds orders and commits directly, for tests below the
// application layer.
func newFixture(t *testing.T) *apptest.Orders { return apptest.NewOrders(t, 1) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func describe(c application.Commit) string {
	return fmt.Sprintf("order %s from version %d", c.OrderID, c.ExpectedVersion)
}

//go:build integration

package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/infrastructure/kafka/kafkatest"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
	"github.com/acme/order-service/internal/testkit"
)

const (
	cellSource = "/order-service/cell-e2e"
	// dbMaxConns keeps each service small: other packages' integration
	// tests share the server's 100 connections.
	dbMaxConns = "8"
)

// postgresEnv is the production-like environment: PostgreSQL, external
// Kafka, JSON logs.
func postgresEnv(t testing.TB, dsn string, brokers []string) map[string]string {
	env := listenEnv(t) // EMBEDDED_KAFKA_ADDR is unused with KAFKA_BROKERS, and never the shared default
	maps.Copy(env, map[string]string{
		"DATABASE_URL":  dsn,
		"KAFKA_BROKERS": strings.Join(brokers, ","),
		"SERVICE_NAME":  "order-service",
		"CELL_ID":       "cell-e2e",
		"DATA_DIR":      t.TempDir(),
		"LOG_FORMAT":    "json",
		"DB_MAX_CONNS":  dbMaxConns,
		// With DATABASE_URL authentication is on by default; these tests
		// act as the anonymous administrator (actor id "anonymous").
		"AUTH_MODE": "off",
	})
	return env
}

// The whole lifecycle over gRPC and over REST against PostgreSQL and Kafka:
// answers, read model, history, the Kafka records, and a consistent database.
func TestPostgresKafkaLifecycle(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	cluster := kafkatest.Start(t, 3, topic)
	svc := startService(t, "pg-lifecycle", postgresEnv(t, dsn, cluster.Brokers()), "")
	ctx := testContext(t, 2*time.Minute)

	var ids []string
	for _, tr := range transports(svc) {
		t.Run(tr.name, func(t *testing.T) {
			ids = append(ids, runLifecycle(t, ctx, tr.client, tr.name)...)
		})
	}
	if t.Failed() {
		t.FailNow()
	}

	// Both transports tell the same history of every order, whichever
	// transport made it.
	history := historyOf(t, ctx, svc.GRPC, ids)
	for id, evs := range historyOf(t, ctx, svc.REST, ids) {
		if !sameEvents(evs, history[id]) {
			t.Errorf("history of %s differs between REST and gRPC", id)
		}
	}

	read := func(ctx context.Context) ([]*kgo.Record, error) {
		return kafkatest.ReadAll(ctx, cluster.Brokers(), topic)
	}
	records := awaitRecords(t, read, history, 30*time.Second)
	checkRecords(t, records, history, cellSource)
	t.Logf("%d orders, %d events, %d Kafka records", len(ids), countEvents(history), len(records))

	checkConsistency(t, ctx, pgtest.NewPool(t, dsn), len(ids))
	svc.Stop()
}

// Every error class of the guide's §4 table, over gRPC and REST, and the
// database outage. The service reaches PostgreSQL through a TCP proxy the
// test stops and restarts: the outage starts and ends at a known moment.
func TestPostgresErrorClasses(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	var proxy *tcpProxy
	proxied := viaProxy(t, dsn, func(target string) string {
		proxy = startTCPProxy(t, target)
		return proxy.Addr()
	})
	cluster := kafkatest.Start(t, 1, topic)
	svc := startService(t, "pg-errors", postgresEnv(t, proxied, cluster.Brokers()), "")
	ctx := testContext(t, 2*time.Minute)

	for _, tr := range transports(svc) {
		t.Run(tr.name, func(t *testing.T) { checkErrorClasses(t, ctx, tr.client, tr.name) })
	}

	t.Run("rest-only", func(t *testing.T) {
		// The gateway's own refusals carry the same ErrorInfo.
		code, body, err := svc.REST.Raw(ctx, http.MethodPost, "/v1/orders",
			[]byte(`{"user_id":"u","items":[{"product_id":"p","product_name":"n","quantity":1,"unit_price":"1"}],"shiping_address":"typo"}`))
		requireOK(t, "POST with an unknown field", err)
		checkError(t, "POST with an unknown field", &restError{HTTPStatus: code, st: decodeStatus(body)},
			wantError{code: codes.InvalidArgument, http: 400, reason: "INVALID_ARGUMENT"})
		code, body, err = svc.REST.Raw(ctx, http.MethodPost, "/v1/orders", []byte(`{"user_id":`))
		requireOK(t, "POST with broken JSON", err)
		checkError(t, "POST with broken JSON", &restError{HTTPStatus: code, st: decodeStatus(body)},
			wantError{code: codes.InvalidArgument, http: 400, reason: "INVALID_ARGUMENT"})
	})

	t.Run("unavailable", func(t *testing.T) {
		// An order to read back during the outage.
		r, err := svc.GRPC.CreateOrder(ctx, seedCreate("user-outage", ""))
		requireOK(t, "CreateOrder before the outage", err)
		existing := r.GetOrder().GetId()

		proxy.Stop()
		t.Log("database unreachable from now on")
		for _, tr := range transports(svc) {
			callCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			start := time.Now()
			_, err := tr.client.CreateOrder(callCtx, seedCreate("user-outage", tr.name+"-outage"))
			checkError(t, tr.name+" CreateOrder during the outage", err,
				wantError{code: codes.Unavailable, http: 503, reason: "DEPENDENCY_UNAVAILABLE"})
			_, err = tr.client.GetOrder(callCtx, &orderv1.GetOrderRequest{OrderId: existing})
			checkError(t, tr.name+" GetOrder during the outage", err,
				wantError{code: codes.Unavailable, http: 503, reason: "DEPENDENCY_UNAVAILABLE"})
			cancel()
			t.Logf("%s: UNAVAILABLE answers within %s", tr.name, time.Since(start).Round(time.Millisecond))
		}
		code, body, err := svc.REST.Raw(ctx, http.MethodGet, "/readyz", nil)
		if err != nil || code != http.StatusServiceUnavailable {
			t.Errorf("/readyz during the outage: %d %q %v, want 503", code, body, err)
		}
		t.Logf("/readyz during the outage: %d %s", code, strings.TrimSpace(string(body)))
		health := healthpb.NewHealthClient(svc.grpcConn)
		awaitHealth(t, ctx, health, healthpb.HealthCheckResponse_NOT_SERVING)
		if code, _, err := svc.REST.Raw(ctx, http.MethodGet, "/healthz", nil); err != nil || code != http.StatusOK {
			t.Errorf("/healthz (liveness) during the outage: %d %v, want 200", code, err)
		}

		proxy.Restart()
		t.Log("database reachable again")
		testkit.Eventually(t, 30*time.Second, "/readyz after the outage", func() error {
			code, body, err := svc.REST.Raw(ctx, http.MethodGet, "/readyz", nil)
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("%d %q %v", code, body, err)
			}
			return nil
		})
		awaitHealth(t, ctx, health, healthpb.HealthCheckResponse_SERVING)
		for _, tr := range transports(svc) {
			_, err := tr.client.CreateOrder(ctx, seedCreate("user-outage", tr.name+"-after"))
			requireOK(t, tr.name+" CreateOrder after the outage", err)
		}
	})
	svc.Stop()
}

// checkErrorClasses provokes each failure of the guide's §4 table through c.
func checkErrorClasses(t *testing.T, ctx context.Context, c orderv1.OrderServiceClient, label string) {
	user := "user-errors-" + label

	// Invalid input, caught by the proto rules and naming the field.
	bad := seedCreate("", "")
	_, err := c.CreateOrder(ctx, bad)
	checkError(t, "CreateOrder without user_id", err,
		wantError{code: codes.InvalidArgument, http: 400, reason: "INVALID_ARGUMENT", field: "user_id"})
	bad = seedCreate(user, "")
	bad.Items[1].Quantity = 0
	_, err = c.CreateOrder(ctx, bad)
	checkError(t, "CreateOrder with quantity 0", err,
		wantError{code: codes.InvalidArgument, http: 400, reason: "INVALID_ARGUMENT", field: "items[1].quantity"})
	_, err = c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: "not-a-uuid"})
	checkError(t, "GetOrder with a malformed id", err,
		wantError{code: codes.InvalidArgument, http: 400, reason: "INVALID_ARGUMENT", field: "order_id"})

	// Not found, for a query and for a command.
	missing := uuid.NewString()
	_, err = c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: missing})
	checkError(t, "GetOrder of an unknown order", err, wantError{code: codes.NotFound, http: 404, reason: "ORDER_NOT_FOUND"})
	_, err = c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: missing})
	checkError(t, "ConfirmOrder of an unknown order", err, wantError{code: codes.NotFound, http: 404, reason: "ORDER_NOT_FOUND"})

	// Version mismatch: the order is at 2, the client saw 1.
	r, err := c.CreateOrder(ctx, seedCreate(user, label+"-errors-create"))
	requireOK(t, "CreateOrder", err)
	id := r.GetOrder().GetId()
	_, err = c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: id, ExpectedVersion: 1})
	requireOK(t, "ConfirmOrder", err)
	_, err = c.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: id, Reason: "stale", ExpectedVersion: 1})
	st := checkError(t, "CancelOrder at a stale version", err, wantError{code: codes.Aborted, http: 409, reason: "VERSION_MISMATCH",
		metadata: map[string]string{"current_version": "2", "expected_version": "1"}})
	if pf := preconditionOf(st); len(pf.GetViolations()) != 1 || pf.GetViolations()[0].GetType() != "VERSION" || pf.GetViolations()[0].GetSubject() != id {
		t.Errorf("stale CancelOrder: PreconditionFailure %v, want one VERSION violation on %s", pf, id)
	}

	// Illegal transition: a CONFIRMED order cannot ship before it is paid.
	_, err = c.ShipOrder(ctx, &orderv1.ShipOrderRequest{OrderId: id, Carrier: "UPS", TrackingNumber: "1Z"})
	st = checkError(t, "ShipOrder of a CONFIRMED order", err, wantError{code: codes.FailedPrecondition, http: 400, reason: "ILLEGAL_TRANSITION"})
	if pf := preconditionOf(st); len(pf.GetViolations()) != 1 || pf.GetViolations()[0].GetType() != "STATUS" {
		t.Errorf("ShipOrder of a CONFIRMED order: PreconditionFailure %v, want one STATUS violation", pf)
	}

	// Nothing of the refused calls was written.
	got, err := c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: id})
	requireOK(t, "GetOrder", err)
	expectOrder(t, "order after the refused calls", got.GetOrder(), 2, orderv1.OrderStatus_ORDER_STATUS_CONFIRMED, "44.98")

	// A request id is bound to its first request.
	other := seedCreate(user, label+"-errors-create")
	other.ShippingAddress = "somewhere else"
	_, err = c.CreateOrder(ctx, other)
	checkError(t, "CreateOrder reusing a request_id", err,
		wantError{code: codes.InvalidArgument, http: 400, reason: "REQUEST_ID_REUSED", field: "request_id"})
}

func awaitHealth(t testing.TB, ctx context.Context, h healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, "grpc health "+want.String(), func() error {
		resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: orderv1.OrderService_ServiceDesc.ServiceName})
		if err != nil {
			return err
		}
		if resp.GetStatus() != want {
			return fmt.Errorf("status %s", resp.GetStatus())
		}
		return nil
	})
}

// checkConsistency replays every order's events and compares them with the
// read model.
func checkConsistency(t testing.TB, ctx context.Context, pool *pgxpool.Pool, orders int) {
	t.Helper()
	report, err := postgres.CheckConsistency(ctx, pool)
	if err != nil {
		t.Fatalf("CheckConsistency: %v", err)
	}
	if !report.Clean() {
		t.Errorf("CheckConsistency found %d problems: %v", report.ProblemCount, report.Problems)
	}
	if report.Orders != orders || report.Histories != orders {
		t.Errorf("CheckConsistency saw %d orders rows and %d histories, want %d", report.Orders, report.Histories, orders)
	}
	t.Logf("CheckConsistency: %d orders, %d events, clean=%v", report.Orders, report.Events, report.Clean())
}

// SIGTERM while 32 clients (24 gRPC, 8 REST) create orders as fast as they
// can: every call either succeeds or fails UNAVAILABLE (for REST: 503 or a
// refused/closed connection), the process exits 0, and after a
// restart every acknowledged order is there, every unacknowledged request
// resolves to exactly one order when retried, the database is consistent and
// every event reaches Kafka.
func TestPostgresGracefulShutdownInFlight(t *testing.T) {
	t.Parallel()
	const workers = 32
	dsn := pgtest.NewDatabase(t)
	cluster := kafkatest.Start(t, 3, topic)
	env := postgresEnv(t, dsn, cluster.Brokers())
	env["RATE_LIMIT_RPS"] = "0" // a load test: no per-caller limit
	svc := startService(t, "pg-shutdown#1", env, "")
	ctx := testContext(t, 3*time.Minute)

	type attempt struct {
		user, requestID string
		order           *orderv1.Order
		err             error
	}
	attempts := make([][]attempt, workers)
	var acked atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		// Every fourth client goes through the REST gateway.
		var client orderv1.OrderServiceClient = svc.GRPC
		if w%4 == 3 {
			client = svc.REST
		}
		wg.Go(func() {
			user := fmt.Sprintf("user-shutdown-%02d", w)
			for i := range 100_000 {
				a := attempt{user: user, requestID: fmt.Sprintf("%s-%d", user, i)}
				callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				r, err := client.CreateOrder(callCtx, seedCreate(user, a.requestID))
				cancel()
				a.order, a.err = r.GetOrder(), err
				attempts[w] = append(attempts[w], a)
				if err != nil {
					return
				}
				acked.Add(1)
			}
		})
	}
	testkit.Eventually(t, 60*time.Second, "200 acknowledged creates before SIGTERM", func() error {
		if n := acked.Load(); n < 200 {
			return fmt.Errorf("%d so far", n)
		}
		return nil
	})
	sigterm := time.Now()
	svc.Signal(syscall.SIGTERM)
	atSignal := acked.Load()
	svc.AssertExit(0, sigterm)
	wg.Wait()
	t.Logf("%d creates acknowledged before SIGTERM, %d more while draining", atSignal, acked.Load()-atSignal)

	var ok, failed []attempt
	for w := range workers {
		for _, a := range attempts[w] {
			if a.err == nil {
				ok = append(ok, a)
				continue
			}
			failed = append(failed, a)
			if code := status.Code(a.err); code != codes.Unavailable {
				t.Errorf("%s: %v (code %s), want success or UNAVAILABLE", a.requestID, a.err, code)
			}
		}
	}
	kinds := make(map[string]int)
	for _, a := range failed {
		msg := a.err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "rpc error") {
			msg = msg[:i] // drop addresses and ports
		}
		kinds[msg]++
	}
	t.Logf("how the %d unacknowledged calls failed: %v", len(failed), kinds)
	if len(failed) != workers {
		t.Fatalf("%d failed calls, want exactly one per worker (%d)", len(failed), workers)
	}

	svc = startService(t, "pg-shutdown#2", env, "")
	for _, a := range ok {
		got, err := svc.GRPC.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: a.order.GetId()})
		requireOK(t, "GetOrder of an acknowledged order", err)
		sameOrder(t, "acknowledged order after the restart", got.GetOrder(), a.order)
	}
	retried := 0
	for _, a := range failed {
		r, err := svc.GRPC.CreateOrder(ctx, seedCreate(a.user, a.requestID))
		requireOK(t, "retry of a failed create", err)
		if r.GetOrder().GetVersion() != 1 {
			t.Errorf("retried create %s: %v", a.requestID, compact(r.GetOrder()))
		}
		retried++
	}

	pool := pgtest.NewPool(t, dsn)
	var orders, events int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_events)`).Scan(&orders, &events); err != nil {
		t.Fatal(err)
	}
	if want := len(ok) + retried; orders != want || events != want {
		t.Errorf("%d orders rows and %d events for %d acknowledged + %d retried requests: lost or duplicated writes",
			orders, events, len(ok), retried)
	}
	checkConsistency(t, ctx, pool, orders)

	// Every committed event reaches Kafka once the relay runs again.
	history := eventsInDatabase(t, ctx, pool)
	read := func(ctx context.Context) ([]*kgo.Record, error) {
		return kafkatest.ReadAll(ctx, cluster.Brokers(), topic)
	}
	records := awaitRecords(t, read, history, 60*time.Second)
	duplicates := len(records) - countEvents(history)
	t.Logf("%d events, %d Kafka records (%d duplicates, allowed: delivery is at least once)", countEvents(history), len(records), duplicates)
	for _, r := range records {
		if h := headersOf(r); string(r.Key) != h["ce_subject"] || h["ce_source"] != cellSource || h["ce_orderversion"] != "1" {
			t.Errorf("record %d/%d: key %q headers %v", r.Partition, r.Offset, r.Key, h)
		}
	}
	svc.Stop()
}

// eventsInDatabase returns the event ids in order_events, by order.
func eventsInDatabase(t testing.TB, ctx context.Context, pool *pgxpool.Pool) map[string][]*orderv1.OrderEvent {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT id::text, aggregate_id::text, version FROM order_events ORDER BY aggregate_id, version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make(map[string][]*orderv1.OrderEvent)
	for rows.Next() {
		e := &orderv1.OrderEvent{}
		if err := rows.Scan(&e.EventId, &e.OrderId, &e.Version); err != nil {
			t.Fatal(err)
		}
		out[e.OrderId] = append(out[e.OrderId], e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

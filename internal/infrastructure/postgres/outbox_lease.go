package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// Lease timings: another instance notices a free lease within about
// leasePollInterval, and a holder notices a broken connection within
// leasePingInterval + leasePingTimeout, so a failover takes a few seconds.
const (
	leasePollInterval = time.Second
	leasePingInterval = time.Second
	leasePingTimeout  = 2 * time.Second
	leaseUnlockWait   = 2 * time.Second
)

// leaseKeyPrefix namespaces relay names in the advisory-lock key space, so a
// relay's lock cannot collide with other advisory locks by accident.
const leaseKeyPrefix = "order-service/outbox-relay/"

// LeaseKey is the advisory-lock key of a relay name: a stable 64-bit hash,
// so every instance derives the same key. Operators can find the holder with
// SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND
// ((classid::bigint << 32) | objid::bigint) = <key>.
func LeaseKey(relay string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(leaseKeyPrefix + relay)) // hash writes never fail
	return int64(h.Sum64())
}

// AcquireLease implements outbox.Source with a session-level advisory lock
// held on a dedicated connection: the lock lives exactly as long as that
// session, so a crashed or partitioned holder loses it without anyone
// cleaning up. It polls pg_try_advisory_lock rather than blocking in
// pg_advisory_lock, so waiting holds no transaction and ctx ends it promptly.
//
// The returned context ends when the connection breaks (it is pinged every
// second) or release is called; cancelling ctx does not end it, so a
// stopping relay may finish its in-flight publish and save its checkpoint
// under the lease before releasing it.
func (s *OutboxSource) AcquireLease(ctx context.Context, relay string) (context.Context, func(), error) {
	key := LeaseKey(relay)
	for {
		conn, err := s.tryLease(ctx, key)
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("outbox lease attempt failed; retrying", "relay", relay, "err", err)
		}
		if conn != nil {
			s.logger.Info("outbox lease acquired", "relay", relay, "lock_key", key)
			held, release := s.holdLease(ctx, conn, relay, key)
			return held, release, nil
		}
		if !outbox.Sleep(ctx, leasePollInterval) {
			return nil, nil, fmt.Errorf("acquire lease of relay %s: %w", relay, ctx.Err())
		}
	}
}

// tryLease opens a connection and tries the lock once; it returns the
// connection only when the lock was granted.
func (s *OutboxSource) tryLease(ctx context.Context, key int64) (*pgx.Conn, error) {
	conn, err := s.dedicatedConn(ctx)
	if err != nil {
		return nil, err
	}
	var granted bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&granted); err != nil {
		closeDedicatedConn(conn)
		return nil, dbError("try advisory lock", err)
	}
	if !granted {
		closeDedicatedConn(conn)
		return nil, nil
	}
	return conn, nil
}

// holdLease keeps the lease's connection checked: the returned context ends
// when a ping fails or on release, which unlocks and closes the connection.
func (s *OutboxSource) holdLease(ctx context.Context, conn *pgx.Conn, relay string, key int64) (context.Context, func()) {
	held, lose := context.WithCancel(context.WithoutCancel(ctx))
	stop := make(chan struct{})
	done := make(chan struct{})
	var broken error
	go func() {
		defer close(done)
		defer lose()
		if broken = pingUntil(conn, stop); broken != nil {
			s.logger.Warn("outbox lease lost: its connection broke", "relay", relay, "err", broken)
		}
	}()
	var once sync.Once
	release := func() {
		once.Do(func() {
			close(stop)
			<-done // the pinger no longer uses conn, and broken is set
			if broken != nil {
				closeDedicatedConn(conn) // the server freed the lock with the session
				return
			}
			s.unlock(conn, relay, key)
		})
	}
	return held, release
}

// pingUntil pings the connection every leasePingInterval until stop closes
// (nil) or a ping fails (its error).
func pingUntil(conn *pgx.Conn, stop <-chan struct{}) error {
	t := time.NewTicker(leasePingInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), leasePingTimeout)
		err := conn.Ping(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("ping lease connection: %w", err)
		}
	}
}

// unlock frees the lock before closing, so a waiting instance need not wait
// for the server to notice the closed session; closing frees it anyway.
func (s *OutboxSource) unlock(conn *pgx.Conn, relay string, key int64) {
	defer closeDedicatedConn(conn)
	ctx, cancel := context.WithTimeout(context.Background(), leaseUnlockWait)
	defer cancel()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
		s.logger.Warn("outbox lease unlock failed; closing its connection frees it", "relay", relay, "err", err)
		return
	}
	s.logger.Info("outbox lease released", "relay", relay)
}

package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/infrastructure/kafka"
	"github.com/acme/order-service/internal/infrastructure/postgres"
)

// maxProblems bounds the problems a result lists (all are counted).
const maxProblems = 40

// checker verifies, after a scenario, that nothing was lost, duplicated,
// reordered or invented: the journal against PostgreSQL, PostgreSQL against
// the Kafka topic, and the service's idempotency by retrying every request
// that got no answer.
type checker struct {
	scenario     string
	journalPath  string
	pool         *pgxpool.Pool
	brokers      []string
	topic        string
	sender       *sender
	drainTimeout time.Duration
	// absent are event ids that must never reach Kafka (rows of a
	// transaction that was rolled back).
	absent []string
	// expectedCodes are the non-OK answers the scenario allows (besides the
	// no-answers a retry settles), e.g. ABORTED for the lost races.
	expectedCodes map[codes.Code]bool
}

// checkResult is what the checker found; the counts go into the PASS/FAIL line.
type checkResult struct {
	Attempts      int // journal entries of the run (every attempt, before the checker's retries)
	RequestIDs    int
	Acked         int // request ids answered OK (by the run or, after a no-answer, by the retry)
	NoAnswer      int // request ids with at least one attempt without an answer
	Retried       int
	Codes         map[string]int // per attempt
	EventsDB      int
	EventsChecked int // database events found on Kafka
	Records       int // Kafka records read
	Duplicates    int // Kafka records repeating an event (same ce_id)
	Lost          int // acknowledged but not stored, or stored but not published
	Phantoms      int // records whose ce_id is in no committed order_events row
	SecondOrders  int // request ids applied more than once
	Drain         time.Duration
	Consistency   postgres.ConsistencyReport
	ProblemCount  int
	Problems      []string
}

func (r *checkResult) problem(format string, args ...any) {
	r.ProblemCount++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Summary is the counts of the PASS/FAIL line.
func (r *checkResult) Summary() string {
	return fmt.Sprintf("requests=%d request_ids=%d acked=%d no_answer=%d retried=%d events=%d events_checked=%d records=%d duplicates=%d lost=%d phantoms=%d second_orders=%d consistency_problems=%d",
		r.Attempts, r.RequestIDs, r.Acked, r.NoAnswer, r.Retried, r.EventsDB, r.EventsChecked, r.Records, r.Duplicates,
		r.Lost, r.Phantoms, r.SecondOrders, r.Consistency.ProblemCount)
}

// requestState is one request id across its attempts.
type requestState struct {
	first    Entry
	answer   *Entry // the OK answer, if any
	noAnswer bool
	refused  []Entry // definite non-OK answers
}

func (c *checker) Run(ctx context.Context) (*checkResult, error) {
	res := &checkResult{Codes: map[string]int{}}
	entries, err := readJournal(c.journalPath)
	if err != nil {
		return nil, err
	}
	reqs, order := c.collect(entries, res)
	c.retry(ctx, reqs, order, res)
	if err := c.sender.journal.Flush(); err != nil {
		return nil, err
	}

	events, err := loadEvents(ctx, c.pool)
	if err != nil {
		return nil, err
	}
	res.EventsDB = len(events)
	c.checkStored(reqs, order, events, res)
	c.checkReadable(ctx, reqs, res)
	if err := c.checkPublished(ctx, events, res); err != nil {
		return nil, err
	}
	report, err := postgres.CheckConsistency(ctx, c.pool)
	if err != nil {
		return nil, fmt.Errorf("check consistency: %w", err)
	}
	res.Consistency = report
	for _, p := range report.Problems {
		res.problem("consistency: %s", p)
	}
	return res, nil
}

// collect groups the journal by request id.
func (c *checker) collect(entries []Entry, res *checkResult) (map[string]*requestState, []string) {
	reqs := map[string]*requestState{}
	var order []string
	for _, e := range entries {
		if e.Phase == "retry" {
			continue // a previous check's own retries
		}
		res.Attempts++
		res.Codes[e.Code]++
		st := reqs[e.RequestID]
		if st == nil {
			st = &requestState{first: e}
			reqs[e.RequestID] = st
			order = append(order, e.RequestID)
		}
		code := codeOf(e.Code)
		switch {
		case code == codes.OK:
			if st.answer != nil && (st.answer.OrderID != e.OrderID || st.answer.Version != e.Version) {
				res.problem("request %s answered twice differently: order %s v%d, then order %s v%d",
					e.RequestID, st.answer.OrderID, st.answer.Version, e.OrderID, e.Version)
			}
			if st.answer == nil {
				st.answer = &e
			}
		case isNoAnswer(code, status.Error(code, e.Message)):
			st.noAnswer = true
		default:
			st.refused = append(st.refused, e)
			if !c.expectedCodes[code] {
				res.problem("request %s (%s) answered %s: %s", e.RequestID, e.Op, e.Code, e.Message)
			}
		}
	}
	res.RequestIDs = len(reqs)
	return reqs, order
}

// retry resends, twice, every request that ever got no answer, with the same
// request id and payload. The first retry settles its fate (replayed or
// applied now); the second must replay exactly the first.
func (c *checker) retry(ctx context.Context, reqs map[string]*requestState, order []string, res *checkResult) {
	var todo []string
	for _, rid := range order {
		if reqs[rid].noAnswer {
			todo = append(todo, rid)
		}
	}
	res.NoAnswer = len(todo)
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for rid := range work {
				st := reqs[rid]
				first, err := c.resendAnswered(ctx, st.first)
				second, err2 := c.resendAnswered(ctx, st.first)
				mu.Lock()
				res.Retried++
				switch {
				case err != nil || err2 != nil:
					res.problem("retry of %s (%s): %v %v", rid, st.first.Op, err, err2)
				case first.Code != codes.OK:
					// A refusal is fine only if the run already got that same refusal.
					if len(st.refused) == 0 || st.refused[0].Code != first.Code.String() {
						res.problem("retry of %s (%s) answered %s: %v", rid, st.first.Op, first.Code, first.Err)
					}
				case second.Code != codes.OK || second.Order.GetId() != first.Order.GetId() || second.Order.GetVersion() != first.Order.GetVersion():
					res.problem("second retry of %s (%s) disagrees: order %s v%d, then %s v%d (%s)", rid, st.first.Op,
						first.Order.GetId(), first.Order.GetVersion(), second.Order.GetId(), second.Order.GetVersion(), second.Code)
				case st.answer != nil && (st.answer.OrderID != first.Order.GetId() || st.answer.Version != first.Order.GetVersion()):
					res.problem("retry of %s (%s) returned order %s v%d, the run was answered order %s v%d", rid, st.first.Op,
						first.Order.GetId(), first.Order.GetVersion(), st.answer.OrderID, st.answer.Version)
				case st.answer == nil:
					e := first.Entry
					st.answer = &e
				}
				mu.Unlock()
			}
		})
	}
	for _, rid := range todo {
		work <- rid
	}
	close(work)
	wg.Wait()
}

// resendAnswered resends a payload until it is answered (5 attempts).
func (c *checker) resendAnswered(ctx context.Context, e Entry) (outcome, error) {
	var o outcome
	for attempt := 1; attempt <= 5; attempt++ {
		var err error
		if o, err = c.sender.resend(ctx, "retry", e, attempt, 20*time.Second); err != nil {
			return o, err
		}
		if !o.noAnswer() {
			return o, nil
		}
	}
	return o, fmt.Errorf("still no answer after 5 attempts: %s %v", o.Code, o.Err)
}

// dbEvent is one committed order_events row.
type dbEvent struct {
	ID, OrderID, Type, RequestID, TxID string
	Version                            int
}

func loadEvents(ctx context.Context, pool *pgxpool.Pool) ([]dbEvent, error) {
	rows, err := pool.Query(ctx, `
SELECT id::text, aggregate_id::text, event_type, version, COALESCE(request_id, ''), transaction_id::text
FROM order_events ORDER BY aggregate_id, version`)
	if err != nil {
		return nil, fmt.Errorf("read order_events: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (dbEvent, error) {
		var e dbEvent
		err := row.Scan(&e.ID, &e.OrderID, &e.Type, &e.Version, &e.RequestID, &e.TxID)
		return e, err
	})
}

// checkStored verifies every acknowledged answer against the log: the event
// that answer reported is stored, written by that request, and no request id
// was ever applied twice (one transaction, one order per request id).
func (c *checker) checkStored(reqs map[string]*requestState, order []string, events []dbEvent, res *checkResult) {
	byRID := map[string][]dbEvent{}
	for _, e := range events {
		if e.RequestID != "" {
			byRID[e.RequestID] = append(byRID[e.RequestID], e)
		}
	}
	for rid, evs := range byRID {
		orders, txs := map[string]bool{}, map[string]bool{}
		for _, e := range evs {
			orders[e.OrderID], txs[e.TxID] = true, true
		}
		if len(orders) > 1 || len(txs) > 1 {
			res.SecondOrders++
			res.problem("request id %s applied more than once: %d orders, %d transactions", rid, len(orders), len(txs))
		}
	}
	for _, rid := range order {
		st := reqs[rid]
		if st.answer == nil {
			continue
		}
		res.Acked++
		evs := byRID[rid]
		if len(evs) == 0 {
			// A command that changes nothing writes nothing; none of the
			// load's commands is such a no-op.
			res.Lost++
			res.problem("acknowledged request %s (%s, order %s v%d) has no event in order_events", rid, st.first.Op, st.answer.OrderID, st.answer.Version)
			continue
		}
		found := false
		for _, e := range evs {
			found = found || (e.OrderID == st.answer.OrderID && int64(e.Version) == st.answer.Version)
		}
		if !found {
			res.Lost++
			res.problem("acknowledged request %s answered order %s v%d, its events in the log are order %s v%d…", rid,
				st.answer.OrderID, st.answer.Version, evs[0].OrderID, evs[0].Version)
		}
	}
}

// checkReadable reads every acknowledged order back through GetOrder.
func (c *checker) checkReadable(ctx context.Context, reqs map[string]*requestState, res *checkResult) {
	latest := map[string]int64{}
	for _, st := range reqs {
		if a := st.answer; a != nil && a.OrderID != "" {
			latest[a.OrderID] = max(latest[a.OrderID], a.Version)
		}
	}
	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range work {
				var o *orderv1.Order
				var err error
				for range 5 {
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					var resp *orderv1.GetOrderResponse
					resp, err = c.sender.client.GetOrder(cctx, &orderv1.GetOrderRequest{OrderId: id})
					cancel()
					if !isNoAnswer(status.Code(err), err) {
						o = resp.GetOrder()
						break
					}
				}
				mu.Lock()
				switch {
				case status.Code(err) == codes.NotFound:
					res.Lost++
					res.problem("acknowledged order %s: GetOrder NOT_FOUND", id)
				case err != nil:
					res.problem("GetOrder %s: %v", id, err)
				case o.GetVersion() < latest[id]:
					res.Lost++
					res.problem("order %s: GetOrder version %d, version %d was acknowledged", id, o.GetVersion(), latest[id])
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
}

// checkPublished waits until every committed event is on the topic (or the
// drain timeout passes) and then checks the records: each is a committed
// event with the right key and version, each order's events first arrive in
// version order 1, 2, 3, … on one partition, and a repeat carries the same
// ce_id (at-least-once duplicates only).
func (c *checker) checkPublished(ctx context.Context, events []dbEvent, res *checkResult) error {
	byID := make(map[string]dbEvent, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	records, drain, err := consumeAll(ctx, c.brokers, c.topic, byID, c.drainTimeout)
	if err != nil {
		return err
	}
	res.Drain = drain
	analyzeRecords(records, events, c.absent, c.drainTimeout, res)
	return nil
}

// analyzeRecords checks the topic's records (in partition/offset order)
// against the committed events.
func analyzeRecords(records []*kgo.Record, events []dbEvent, absent []string, waited time.Duration, res *checkResult) {
	byID := make(map[string]dbEvent, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	res.Records = len(records)
	seen := map[string]bool{}
	type orderStream struct {
		partition int32
		next      int            // the version whose first delivery is due
		ceID      map[int]string // version → ce_id of its first delivery
	}
	streams := map[string]*orderStream{}
	for _, r := range records {
		h := headers(r)
		ceID := h[kafka.HeaderID]
		e, ok := byID[ceID]
		if !ok {
			res.Phantoms++
			res.problem("record %s/%d@%d: ce_id %q is in no committed order_events row", r.Topic, r.Partition, r.Offset, ceID)
			continue
		}
		version, _ := strconv.Atoi(h[kafka.HeaderOrderVersion])
		if string(r.Key) != e.OrderID || h[kafka.HeaderSubject] != e.OrderID || version != e.Version ||
			h[kafka.HeaderType] != kafka.TypePrefix+e.Type || h[kafka.HeaderSpecVersion] != kafka.SpecVersion {
			res.problem("record %d@%d (ce_id %s): key %q subject %q version %q type %q do not match order %s v%d %s",
				r.Partition, r.Offset, ceID, r.Key, h[kafka.HeaderSubject], h[kafka.HeaderOrderVersion], h[kafka.HeaderType], e.OrderID, e.Version, e.Type)
		}
		s := streams[e.OrderID]
		if s == nil {
			s = &orderStream{partition: r.Partition, next: 1, ceID: map[int]string{}}
			streams[e.OrderID] = s
		}
		if r.Partition != s.partition {
			res.problem("order %s on partitions %d and %d", e.OrderID, s.partition, r.Partition)
		}
		if first, dup := s.ceID[e.Version]; dup {
			res.Duplicates++
			if first != ceID {
				res.problem("order %s v%d published with two ce_ids: %s and %s", e.OrderID, e.Version, first, ceID)
			}
			continue
		}
		if e.Version != s.next {
			res.problem("order %s: v%d arrived first while v%d was due (partition %d offset %d)", e.OrderID, e.Version, s.next, r.Partition, r.Offset)
		}
		s.ceID[e.Version] = ceID
		s.next = e.Version + 1
		seen[ceID] = true
	}
	for _, e := range events {
		if seen[e.ID] {
			res.EventsChecked++
			continue
		}
		res.Lost++
		res.problem("event %s (order %s v%d %s) never published (drain waited %s)", e.ID, e.OrderID, e.Version, e.Type, waited)
	}
	for _, id := range absent {
		for _, r := range records {
			if headers(r)[kafka.HeaderID] == id {
				res.problem("event %s of a rolled-back transaction was published", id)
			}
		}
	}
}

func headers(r *kgo.Record) map[string]string {
	h := make(map[string]string, len(r.Headers))
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	return h
}

// consumeAll reads the topic from the start until every wanted event id has
// arrived (or timeout passes), then on to the end offsets as they stand, so
// nothing already published is left unread. It returns the records in
// partition/offset order and how long the wait for the wanted events took.
func consumeAll(ctx context.Context, brokers []string, topic string, want map[string]dbEvent, timeout time.Duration) ([]*kgo.Record, time.Duration, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		return nil, 0, fmt.Errorf("kafka consumer: %w", err)
	}
	defer client.Close()
	missing := make(map[string]bool, len(want))
	for id := range want {
		missing[id] = true
	}
	start := time.Now()
	deadline := start.Add(timeout)
	var records []*kgo.Record
	var drained time.Duration
	poll := func() {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		f := client.PollFetches(pctx)
		f.EachRecord(func(r *kgo.Record) {
			records = append(records, r)
			delete(missing, headers(r)[kafka.HeaderID])
		})
	}
	for len(missing) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		poll()
	}
	drained = time.Since(start)
	// Then read to the end offsets of now: trailing duplicates and any
	// phantom published after the wanted events.
	ends, err := endOffsets(ctx, kadm.NewClient(client), topic)
	if err != nil {
		return nil, 0, err
	}
	endDeadline := time.Now().Add(30 * time.Second)
	for !reached(records, ends) && time.Now().Before(endDeadline) && ctx.Err() == nil {
		poll()
	}
	if !reached(records, ends) {
		return nil, 0, fmt.Errorf("could not read %s to its end offsets %v", topic, ends)
	}
	sort.SliceStable(records, func(i, j int) bool {
		if records[i].Partition != records[j].Partition {
			return records[i].Partition < records[j].Partition
		}
		return records[i].Offset < records[j].Offset
	})
	records = slices.CompactFunc(records, func(a, b *kgo.Record) bool {
		return a.Partition == b.Partition && a.Offset == b.Offset
	})
	return records, drained, nil
}

func endOffsets(ctx context.Context, admin *kadm.Client, topic string) (map[int32]int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	listed, err := admin.ListEndOffsets(cctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return ends, nil
}

func reached(records []*kgo.Record, ends map[int32]int64) bool {
	next := map[int32]int64{}
	for _, r := range records {
		next[r.Partition] = max(next[r.Partition], r.Offset+1)
	}
	for p, end := range ends {
		if next[p] < end {
			return false
		}
	}
	return true
}

// codeOf parses a journaled code name.
func codeOf(name string) codes.Code {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c
		}
	}
	return codes.Unknown
}

// percentile returns the p-th percentile (0..100) of durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func fmtCodes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, ",")
}

package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc/codes"

	"github.com/acme/order-service/internal/infrastructure/kafka"
)

// The checker must be able to fail: each test feeds it a defect and expects
// it to be reported.

func ev(id, order string, version int) dbEvent {
	return dbEvent{ID: id, OrderID: order, Version: version, Type: "OrderCreated", TxID: "tx-" + id, RequestID: "rid-" + id}
}

func rec(partition int32, offset int64, e dbEvent) *kgo.Record {
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	return &kgo.Record{Topic: "t", Partition: partition, Offset: offset, Key: []byte(e.OrderID), Headers: []kgo.RecordHeader{
		h(kafka.HeaderSpecVersion, kafka.SpecVersion), h(kafka.HeaderID, e.ID), h(kafka.HeaderSubject, e.OrderID),
		h(kafka.HeaderType, kafka.TypePrefix+e.Type), h(kafka.HeaderOrderVersion, strconv.Itoa(e.Version)),
	}}
}

func analyze(records []*kgo.Record, events []dbEvent, absent ...string) *checkResult {
	res := &checkResult{}
	analyzeRecords(records, events, absent, time.Second, res)
	return res
}

func wantProblem(t *testing.T, res *checkResult, substr string) {
	t.Helper()
	for _, p := range res.Problems {
		if strings.Contains(p, substr) {
			return
		}
	}
	t.Errorf("no problem mentions %q; problems: %q", substr, res.Problems)
}

func TestAnalyzeRecordsAcceptsInOrderWithSameIDDuplicates(t *testing.T) {
	a1, a2, b1 := ev("a1", "A", 1), ev("a2", "A", 2), ev("b1", "B", 1)
	// A relay that restarted from its checkpoint repeats a1, a2.
	records := []*kgo.Record{rec(0, 0, a1), rec(0, 1, a2), rec(0, 2, a1), rec(0, 3, a2), rec(1, 0, b1)}
	res := analyze(records, []dbEvent{a1, a2, b1})
	if res.ProblemCount != 0 || res.Duplicates != 2 || res.EventsChecked != 3 || res.Lost != 0 {
		t.Fatalf("got problems %q duplicates %d checked %d lost %d", res.Problems, res.Duplicates, res.EventsChecked, res.Lost)
	}
}

func TestAnalyzeRecordsReportsOutOfOrder(t *testing.T) {
	a1, a2 := ev("a1", "A", 1), ev("a2", "A", 2)
	res := analyze([]*kgo.Record{rec(0, 0, a2), rec(0, 1, a1)}, []dbEvent{a1, a2})
	wantProblem(t, res, "v2 arrived first while v1 was due")
}

func TestAnalyzeRecordsReportsASkippedVersion(t *testing.T) {
	a1, a2, a3 := ev("a1", "A", 1), ev("a2", "A", 2), ev("a3", "A", 3)
	res := analyze([]*kgo.Record{rec(0, 0, a1), rec(0, 1, a3)}, []dbEvent{a1, a2, a3})
	wantProblem(t, res, "v3 arrived first while v2 was due")
	wantProblem(t, res, "a2 (order A v2 OrderCreated) never published")
	if res.Lost != 1 {
		t.Errorf("lost %d, want 1", res.Lost)
	}
}

func TestAnalyzeRecordsReportsPhantomAndRolledBack(t *testing.T) {
	a1 := ev("a1", "A", 1)
	ghost := ev("ghost", "G", 1) // not committed
	res := analyze([]*kgo.Record{rec(0, 0, a1), rec(0, 1, ghost)}, []dbEvent{a1}, "ghost")
	if res.Phantoms != 1 {
		t.Errorf("phantoms %d, want 1", res.Phantoms)
	}
	wantProblem(t, res, `ce_id "ghost" is in no committed order_events row`)
	wantProblem(t, res, "event ghost of a rolled-back transaction was published")
}

func TestAnalyzeRecordsReportsWrongKeyAndSplitPartitions(t *testing.T) {
	a1, a2 := ev("a1", "A", 1), ev("a2", "A", 2)
	wrong := rec(0, 0, a1)
	wrong.Key = []byte("B")
	res := analyze([]*kgo.Record{wrong, rec(1, 0, a2)}, []dbEvent{a1, a2})
	wantProblem(t, res, `key "B"`)
	wantProblem(t, res, "order A on partitions 0 and 1")
}

func TestCollectAndCheckStored(t *testing.T) {
	ok := func(rid, op, order string, v int64) Entry {
		return Entry{RequestID: rid, Op: op, Code: "OK", OrderID: order, Version: v, Phase: "load"}
	}
	journal := []Entry{
		ok("r1", "CreateOrder", "A", 1),
		ok("r1", "CreateOrder", "A2", 1), // the same request answered with another order
		ok("r2", "ConfirmOrder", "A", 2), // acknowledged, never stored
		{RequestID: "r3", Op: "ConfirmOrder", Code: "Internal", Message: "internal error", Phase: "load"},
		{RequestID: "r4", Op: "ConfirmOrder", Code: "Aborted", Phase: "race"},
		{RequestID: "r5", Op: "CreateOrder", Code: "Unavailable", Phase: "load"},
	}
	c := &checker{expectedCodes: map[codes.Code]bool{codes.Aborted: true}}
	res := &checkResult{Codes: map[string]int{}}
	reqs, order := c.collect(journal, res)
	wantProblem(t, res, "request r1 answered twice differently")
	wantProblem(t, res, "request r3 (ConfirmOrder) answered Internal")
	for _, p := range res.Problems {
		if strings.Contains(p, "r4") {
			t.Errorf("an expected ABORTED reported: %s", p)
		}
	}
	if !reqs["r5"].noAnswer || reqs["r5"].answer != nil {
		t.Errorf("r5 should be a no-answer")
	}

	// r1 applied twice: two transactions (and two orders) under one request id.
	twice := ev("x", "B", 1)
	twice.RequestID, twice.TxID = "r1", "tx-other"
	first := ev("a1", "A", 1)
	first.RequestID = "r1"
	res = &checkResult{}
	c.checkStored(reqs, order, []dbEvent{first, twice}, res)
	if res.SecondOrders != 1 {
		t.Errorf("second orders %d, want 1", res.SecondOrders)
	}
	wantProblem(t, res, "acknowledged request r2 (ConfirmOrder, order A v2) has no event")
	if res.Lost != 1 {
		t.Errorf("lost %d, want 1", res.Lost)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 99); p != 99*time.Millisecond {
		t.Errorf("p99 %s", p)
	}
	if p := percentile(nil, 99); p != 0 {
		t.Errorf("p99 of nothing %s", p)
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/infrastructure/kafka/kafkatest"
	"github.com/acme/order-service/internal/server"
	"github.com/acme/order-service/internal/testkit"
)

// tracedService runs the service with an in-memory span recorder.
func tracedService(t *testing.T, env map[string]string) (*service, *tracetest.SpanRecorder) {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())), sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return startService(t, env, server.Options{TracerProvider: tp}), spans
}

// TestTraceFromRPCToKafka follows one request: the gRPC server span, the
// command handler's span below it, the store's below that — one trace — and
// the Kafka record of the event it caused, whose traceparent continues the
// same trace. Requests that bring their own traceparent (gRPC metadata, the
// REST header) are continued rather than restarted.
func TestTraceFromRPCToKafka(t *testing.T) {
	t.Parallel()
	svc, spans := tracedService(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// 1. gRPC without a traceparent: the service starts the trace.
	created, err := svc.GRPC.CreateOrder(ctx, newOrder("user-1", "trace-1"))
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	orderID := created.GetOrder().GetId()
	var rpc, command, appendSpan sdktrace.ReadOnlySpan
	testkit.Eventually(t, 10*time.Second, "CreateOrder's spans", func() error {
		ended := spans.Ended()
		rpc = find(ended, func(s sdktrace.ReadOnlySpan) bool {
			return s.Name() == "order.v1.OrderService/CreateOrder" && s.SpanKind() == trace.SpanKindServer
		})
		if rpc == nil {
			return fmt.Errorf("no server span among %d", len(ended))
		}
		command = childOf(ended, rpc, "command.CreateOrder")
		if command == nil {
			return fmt.Errorf("no command.CreateOrder under the RPC span")
		}
		appendSpan = childOf(ended, command, "store.Append")
		if appendSpan == nil {
			return fmt.Errorf("no store.Append under the command span")
		}
		if childOf(ended, command, "store.FindRequest") == nil {
			return fmt.Errorf("no store.FindRequest (the idempotency lookup) under the command span")
		}
		return nil
	})
	traceID := rpc.SpanContext().TraceID()
	if rpc.Parent().IsValid() {
		t.Errorf("the RPC span has a parent %v, but the request brought no traceparent", rpc.Parent())
	}
	if attrOf(appendSpan, "order.id") != orderID || attrOf(appendSpan, "db.system.name") != "sqlite" {
		t.Errorf("store.Append attributes: %v", appendSpan.Attributes())
	}

	// 2. gRPC with a traceparent in the metadata: continued.
	grpcTrace := "4bf92f3577b34da6a3ce929d0e0e4736"
	mdCtx := metadata.AppendToOutgoingContext(ctx, "traceparent", "00-"+grpcTrace+"-00f067aa0ba902b7-01")
	if _, err := svc.GRPC.ConfirmOrder(mdCtx, &orderv1.ConfirmOrderRequest{OrderId: orderID, ExpectedVersion: 1}); err != nil {
		t.Fatalf("ConfirmOrder: %v", err)
	}

	// 3. REST with a Traceparent header: continued through the gateway.
	restTrace := "0af7651916cd43dd8448eb211c80319c"
	reqHeader := http.Header{"Traceparent": {"00-" + restTrace + "-b7ad6b7169203331-01"}}
	code, body, err := do(ctx, http.MethodPost, svc.HTTP+"/v1/orders", `{"user_id":"user-2","shipping_address":"2 Side Rd","items":[{"product_id":"p","product_name":"P","quantity":1,"unit_price":"1.00"}]}`, reqHeader)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST /v1/orders: %d %s %v", code, body, err)
	}
	var rest struct {
		Order struct {
			ID string `json:"id"`
		} `json:"order"`
	}
	if err := json.Unmarshal(body, &rest); err != nil {
		t.Fatal(err)
	}

	// Every event on Kafka carries the trace of the request that caused it.
	want := map[string]string{ // key (order id) + ce_type → trace id
		orderID + " order.v1.OrderCreated":       traceID.String(),
		orderID + " order.v1.OrderConfirmed":     grpcTrace,
		rest.Order.ID + " order.v1.OrderCreated": restTrace,
	}
	var records []*kgo.Record
	testkit.Eventually(t, 30*time.Second, "three records on the topic", func() error {
		records, err = kafkatest.ReadAll(ctx, []string{svc.Kafka}, "order-events")
		if err != nil || len(records) < len(want) {
			return fmt.Errorf("%d records, %v", len(records), err)
		}
		return nil
	})
	for _, r := range records {
		key := string(r.Key) + " " + header(r, "ce_type")
		wantTrace, ok := want[key]
		if !ok {
			t.Errorf("unexpected record %s", key)
			continue
		}
		tp := header(r, "traceparent")
		if parts := strings.Split(tp, "-"); len(parts) != 4 || parts[1] != wantTrace {
			t.Errorf("record %s: traceparent %q, want trace %s", key, tp, wantTrace)
		}
		if key == orderID+" order.v1.OrderCreated" && !strings.Contains(tp, rpc.SpanContext().SpanID().String()) {
			t.Errorf("record %s: traceparent %q does not name the RPC span %s as parent", key, tp, rpc.SpanContext().SpanID())
		}
	}

	// The continued traces have their server spans, children of the callers'.
	ended := spans.Ended()
	for _, c := range []struct{ name, trace, parent string }{
		{"order.v1.OrderService/ConfirmOrder", grpcTrace, "00f067aa0ba902b7"},
		{"order.v1.OrderService/CreateOrder", restTrace, "b7ad6b7169203331"},
	} {
		s := find(ended, func(s sdktrace.ReadOnlySpan) bool {
			return s.Name() == c.name && s.SpanContext().TraceID().String() == c.trace
		})
		if s == nil {
			t.Errorf("no %s span in trace %s", c.name, c.trace)
		} else if s.Parent().SpanID().String() != c.parent || !s.Parent().IsRemote() {
			t.Errorf("%s: parent %v, want the caller's %s", c.name, s.Parent(), c.parent)
		}
	}
	// The relay's publish spans link back to the requests' traces.
	testkit.Eventually(t, 10*time.Second, "publish spans linked to the request traces", func() error {
		linked := map[string]bool{}
		for _, s := range spans.Ended() {
			if s.Name() == "outbox publish" {
				for _, l := range s.Links() {
					linked[l.SpanContext.TraceID().String()] = true
				}
			}
		}
		for _, tr := range []string{traceID.String(), grpcTrace, restTrace} {
			if !linked[tr] {
				return fmt.Errorf("no outbox publish span links trace %s", tr)
			}
		}
		return nil
	})
	// Health checks and reflection are not traced.
	for _, s := range ended {
		if strings.HasPrefix(s.Name(), "grpc.health") || strings.HasPrefix(s.Name(), "grpc.reflection") {
			t.Errorf("span %s", s.Name())
		}
	}
	// The call's log line names its trace.
	found := false
	for _, line := range svc.logLines(t) {
		if line["msg"] == "grpc call" && line["trace_id"] == traceID.String() {
			found = true
		}
	}
	if !found {
		t.Errorf("no grpc call log line with trace_id %s", traceID)
	}
}

func find(spans []sdktrace.ReadOnlySpan, match func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if match(s) {
			return s
		}
	}
	return nil
}

// childOf finds the span called name whose parent is parent.
func childOf(spans []sdktrace.ReadOnlySpan, parent sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	return find(spans, func(s sdktrace.ReadOnlySpan) bool {
		return s.Name() == name && s.Parent().SpanID() == parent.SpanContext().SpanID() &&
			s.SpanContext().TraceID() == parent.SpanContext().TraceID()
	})
}

func attrOf(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

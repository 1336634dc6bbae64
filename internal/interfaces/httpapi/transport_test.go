package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	spb "google.golang.org/genproto/googleapis/rpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
	"github.com/acme/order-service/internal/interfaces/httpapi"
)

type response struct {
	code   int
	header http.Header
	body   []byte
}

func send(t *testing.T, method, url, contentType, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

func postJSON(t *testing.T, url, contentType, body string) response {
	t.Helper()
	return send(t, http.MethodPost, url, contentType, body, nil)
}

func contains(body []byte, s string) bool { return bytes.Contains(body, []byte(s)) }

// rpcStatus decodes an error body, which must be a google.rpc.Status.
func rpcStatus(t *testing.T, r response) *status.Status {
	t.Helper()
	var st spb.Status
	if err := protojson.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("error body %s is not a google.rpc.Status: %v", r.body, err)
	}
	return status.FromProto(&st)
}

func TestRequestBodyRules(t *testing.T) {
	env := apitest.Start(t, apitest.Options{HTTP: httpapi.HandlerConfig{MaxBodyBytes: 4 << 10}})
	url := env.HTTP.URL + "/v1/orders"
	tests := []struct {
		name, contentType, body string
		http                    int
		reason                  string
		mention                 string
	}{
		{"oversized body", "application/json", `{"user_id":"` + strings.Repeat("x", 8<<10) + `"}`, 413, httpapi.ReasonRequestTooLarge, "4096"},
		{"not JSON", "text/plain", seedJSON, 415, httpapi.ReasonUnsupportedMediaType, "application/json"},
		{"form", "application/x-www-form-urlencoded", "user_id=u", 415, httpapi.ReasonUnsupportedMediaType, "application/json"},
		{"unknown field", "application/json", `{"user_id":"u","shiping_address":"x"}`, 400, grpcapi.ReasonInvalidArgument, "shiping_address"},
		{"broken JSON", "application/json", `{"user_id":`, 400, grpcapi.ReasonInvalidArgument, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := postJSON(t, url, tc.contentType, tc.body)
			if resp.code != tc.http {
				t.Fatalf("HTTP %d %s, want %d", resp.code, resp.body, tc.http)
			}
			st := rpcStatus(t, resp)
			if got := reasonOf(st); got != tc.reason {
				t.Errorf("reason = %q, want %q (%s)", got, tc.reason, resp.body)
			}
			if !strings.Contains(st.Message(), tc.mention) {
				t.Errorf("message %q does not mention %q", st.Message(), tc.mention)
			}
		})
	}
	t.Run("JSON with charset and no content type are accepted", func(t *testing.T) {
		for _, ct := range []string{"application/json; charset=utf-8", ""} {
			if resp := postJSON(t, url, ct, seedJSON); resp.code != 200 {
				t.Errorf("Content-Type %q: HTTP %d %s", ct, resp.code, resp.body)
			}
		}
	})
}

// TestHeaders checks the request id round trip and that correlation and
// trace context reach the event metadata over REST.
func TestHeaders(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	resp := send(t, http.MethodPost, env.HTTP.URL+"/v1/orders", "application/json", seedJSON, map[string]string{
		"X-Request-Id": "req-42", "X-Correlation-Id": "corr-7", "Traceparent": traceparent,
	})
	if resp.code != 200 || resp.header.Get("X-Request-Id") != "req-42" {
		t.Fatalf("HTTP %d, X-Request-Id %q: %s", resp.code, resp.header.Get("X-Request-Id"), resp.body)
	}
	created := &orderv1.CreateOrderResponse{}
	if err := protojson.Unmarshal(resp.body, created); err != nil {
		t.Fatal(err)
	}
	id, err := order.ParseID(created.GetOrder().GetId())
	if err != nil {
		t.Fatal(err)
	}
	events, err := env.Store.ListOrderEvents(context.Background(), id, 0, 10)
	if err != nil || len(events) != 1 {
		t.Fatalf("events = %v, %v", events, err)
	}
	if md := events[0].Metadata; md.CorrelationID != "corr-7" || md.TraceParent != traceparent || md.ActorID != "anonymous" {
		t.Errorf("event metadata = %+v", md)
	}
	if !strings.Contains(env.Logs.String(), `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) {
		t.Error("the call's log line lacks the trace id")
	}

	t.Run("generated when absent", func(t *testing.T) {
		var header metadata.MD
		if _, err := env.GRPC.CreateOrder(testContext(t), seedRequest(t, "u"), grpc.Header(&header)); err != nil {
			t.Fatal(err)
		}
		if ids := header.Get("x-request-id"); len(ids) != 1 || len(ids[0]) < 16 {
			t.Errorf("x-request-id = %v, want a generated id", ids)
		}
		if rest := send(t, http.MethodGet, env.HTTP.URL+"/v1/orders?user_id=u", "", "", nil); rest.header.Get("X-Request-Id") == "" {
			t.Error("REST response has no X-Request-Id")
		}
	})
}

func TestProbesAndDocument(t *testing.T) {
	notReady := errors.New("database: connection refused")
	var broken atomic.Bool
	env := apitest.Start(t, apitest.Options{HTTP: httpapi.HandlerConfig{
		Ready: func(context.Context) error {
			if broken.Load() {
				return notReady
			}
			return nil
		},
		OpenAPI: []byte(`{"swagger":"2.0"}`),
	}})
	get := func(path string) response { return send(t, http.MethodGet, env.HTTP.URL+path, "", "", nil) }

	if r := get("/healthz"); r.code != 200 || string(r.body) != "ok\n" {
		t.Errorf("/healthz = %d %q", r.code, r.body)
	}
	if r := get("/readyz"); r.code != 200 {
		t.Errorf("/readyz while ready = %d %q", r.code, r.body)
	}
	broken.Store(true)
	if r := get("/readyz"); r.code != 503 || !contains(r.body, "connection refused") {
		t.Errorf("/readyz while not ready = %d %q", r.code, r.body)
	}
	if r := get("/healthz"); r.code != 200 {
		t.Errorf("/healthz must not depend on readiness: %d", r.code)
	}
	if r := get("/openapi.json"); r.code != 200 || r.header.Get("Content-Type") != "application/json" || string(r.body) != `{"swagger":"2.0"}` {
		t.Errorf("/openapi.json = %d %s %q", r.code, r.header.Get("Content-Type"), r.body)
	}
	if r := send(t, http.MethodPost, env.HTTP.URL+"/healthz", "", "", nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d", r.code)
	}
}

func TestEmbeddedOpenAPIByDefault(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	r := send(t, http.MethodGet, env.HTTP.URL+"/openapi.json", "", "", nil)
	if r.code != 200 || !contains(r.body, "/v1/orders") {
		t.Errorf("/openapi.json = %d, %d bytes", r.code, len(r.body))
	}
}

func TestNewServerSetsLimits(t *testing.T) {
	srv := httpapi.NewServer(":0", http.NotFoundHandler(), httpapi.ServerConfig{WriteTimeout: time.Minute})
	if srv.ReadHeaderTimeout != httpapi.DefaultReadHeaderTimeout || srv.ReadTimeout != httpapi.DefaultReadTimeout ||
		srv.WriteTimeout != time.Minute || srv.IdleTimeout != httpapi.DefaultIdleTimeout ||
		srv.MaxHeaderBytes != httpapi.DefaultMaxHeaderBytes || srv.ErrorLog == nil {
		t.Errorf("server = %+v", srv)
	}
	if httpapi.DefaultWriteTimeout <= grpcapi.DefaultMaxTimeout {
		t.Error("REST responses would be cut off before the longest gRPC deadline")
	}
}

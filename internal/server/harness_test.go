package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/server"
	"github.com/acme/order-service/internal/testkit"
)

// Failure bounds, not performance targets: a race-instrumented build on a
// busy 2-core machine must fit.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 40 * time.Second
)

// service is the real service, built by server.RunWith in this process on
// the embedded SQLite store and the embedded broker, on fresh ports.
type service struct {
	cfg  config.Config
	logs *testkit.Buffer

	GRPC  orderv1.OrderServiceClient
	Conn  *grpc.ClientConn
	HTTP  string // base URL of the REST port
	Admin string // base URL of the admin listener
	Kafka string // the embedded broker's address
}

// startService runs the service until the test ends. env adds to (or
// overrides) the embedded defaults.
func startService(t *testing.T, env map[string]string, opts server.Options) *service {
	t.Helper()
	addrs := testkit.MustFreeAddrs(t, 4)
	vars := map[string]string{
		"DATA_DIR": t.TempDir(), "GRPC_ADDR": addrs[0], "HTTP_ADDR": addrs[1],
		"EMBEDDED_KAFKA_ADDR": addrs[2], "ADMIN_ADDR": addrs[3],
		"LOG_FORMAT": "json", "LOG_LEVEL": "debug", "RELAY_POLL_INTERVAL": "100ms", "SHUTDOWN_TIMEOUT": "10s",
		"SERVICE_NAME": "order-service", "CELL_ID": "cell-test",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s := &service{cfg: cfg, logs: &testkit.Buffer{}, HTTP: "http://" + addrs[1], Admin: "http://" + addrs[3], Kafka: addrs[2]}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error // valid once stopped is closed
	go func() {
		runErr = server.RunWith(ctx, cfg, server.NewLogger(s.logs, cfg), opts)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
			if runErr != nil {
				t.Errorf("service stopped with %v", runErr)
			}
		case <-time.After(stopTimeout):
			t.Errorf("service did not stop within %s", stopTimeout)
		}
		if t.Failed() {
			t.Logf("service log:\n%s", s.logs.String())
		}
	})
	readyCtx, readyCancel := context.WithTimeout(ctx, readyTimeout)
	defer readyCancel()
	if err := testkit.WaitReady(readyCtx, s.HTTP+"/readyz", stopped); err != nil {
		cancel()
		t.Fatalf("not ready within %s: %v\nlog:\n%s", readyTimeout, err, s.logs.String())
	}
	conn, err := grpc.NewClient(addrs[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc client: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	s.Conn, s.GRPC = conn, orderv1.NewOrderServiceClient(conn)
	return s
}

// get fetches url and returns the status code and body.
func get(ctx context.Context, url string) (int, []byte, error) {
	return do(ctx, http.MethodGet, url, "", nil)
}

func do(ctx context.Context, method, url, body string, header http.Header) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// scrape reads and parses a /metrics endpoint.
func scrape(t *testing.T, url string) metrics {
	t.Helper()
	code, body, err := get(context.Background(), url)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return families
}

// metrics is a parsed scrape.
type metrics map[string]*dto.MetricFamily

// value is the value of the series of name with (at least) the labels,
// and whether there is one. Counters, gauges and histogram counts.
func (m metrics) value(name string, labels ...string) (float64, bool) {
	f, ok := m[name]
	if !ok {
		return 0, false
	}
next:
	for _, s := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range s.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		case s.Untyped != nil:
			return s.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// logLines parses the service's JSON log.
func (s *service) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", raw, err)
		}
		lines = append(lines, line)
	}
	return lines
}

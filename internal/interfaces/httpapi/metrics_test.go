package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/httpapi"
)

// recorder is a RequestObserver that keeps what it heard.
type recorder struct {
	mu   sync.Mutex
	seen []string // "METHOD route code"
}

func (r *recorder) ObserveRequest(method, route string, code int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, method+" "+route+" "+http.StatusText(code))
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.seen, "\n")
}

// TestRequestsObservedByRoute checks the labels REST metrics get: the
// gateway's route templates and the mux's patterns, never the raw path.
func TestRequestsObservedByRoute(t *testing.T) {
	obs := &recorder{}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("# metrics\n")) })
	env := apitest.Start(t, apitest.Options{HTTP: httpapi.HandlerConfig{
		Observer: obs, Metrics: metrics,
		Info: func() map[string]any { return map[string]any{"relay": map[string]string{"state": "lagging"}} },
	}})
	created := postJSON(t, env.HTTP.URL+"/v1/orders", "application/json",
		`{"user_id":"u1","shipping_address":"1 Main St","items":[{"product_id":"p","product_name":"P","quantity":1,"unit_price":"1.00"}]}`)
	var body struct {
		Order struct {
			ID string `json:"id"`
		} `json:"order"`
	}
	if created.code != 200 || json.Unmarshal(created.body, &body) != nil {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	id := body.Order.ID
	send(t, http.MethodGet, env.HTTP.URL+"/v1/orders/"+id, "", "", nil)
	postJSON(t, env.HTTP.URL+"/v1/orders/"+id+":confirm", "application/json", `{"expected_version":9}`)
	send(t, http.MethodDelete, env.HTTP.URL+"/v1/orders/"+id+"/items/sku-9", "", "", nil)
	send(t, http.MethodGet, env.HTTP.URL+"/v1/nothing/here", "", "", nil)
	send(t, http.MethodGet, env.HTTP.URL+"/elsewhere", "", "", nil)
	send(t, "BREW", env.HTTP.URL+"/healthz", "", "", nil)
	if r := send(t, http.MethodGet, env.HTTP.URL+"/metrics", "", "", nil); r.code != 200 || string(r.body) != "# metrics\n" {
		t.Errorf("/metrics = %d %q", r.code, r.body)
	}
	ready := send(t, http.MethodGet, env.HTTP.URL+"/readyz", "", "", nil)
	if ready.code != 200 || !strings.Contains(string(ready.body), `"relay":{"state":"lagging"}`) || !strings.Contains(string(ready.body), `"status":"ready"`) {
		t.Errorf("/readyz = %d %s", ready.code, ready.body)
	}

	want := strings.Join([]string{
		"POST /v1/orders OK",
		"GET /v1/orders/{order_id} OK",
		"POST /v1/orders/{order_id}:confirm Conflict",
		"DELETE /v1/orders/{order_id}/items/{product_id} Bad Request",
		"GET /v1/ Not Found",
		"GET unmatched Not Found",
		"OTHER unmatched Method Not Allowed",
		"GET /metrics OK",
		"GET /readyz OK",
	}, "\n")
	if got := obs.all(); got != want {
		t.Errorf("observed:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(obs.all(), id) {
		t.Error("an order id reached a label")
	}
}

func TestAdminHandler(t *testing.T) {
	h := httpapi.NewAdminHandler(httpapi.AdminConfig{
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("m")) }),
		Relay:   func() any { return map[string]any{"state": "caught-up", "last_error": "dial tcp: refused"} },
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]string{
		"/metrics": "m", "/admin/relay": `"state":"caught-up"`, "/debug/pprof/": "goroutine",
		"/debug/pprof/cmdline": "", "/healthz": "ok",
	} {
		r := send(t, http.MethodGet, srv.URL+path, "", "", nil)
		if r.code != 200 || !strings.Contains(string(r.body), want) {
			t.Errorf("GET %s = %d %.80q", path, r.code, r.body)
		}
	}
	if r := send(t, http.MethodGet, srv.URL+"/v1/orders", "", "", nil); r.code != 404 {
		t.Errorf("the API on the admin handler: %d", r.code)
	}
}

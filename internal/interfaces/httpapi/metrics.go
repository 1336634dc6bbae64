package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// RequestObserver hears about every answered HTTP request (metrics). route
// is the pattern that matched ("/v1/orders/{order_id}:confirm",
// "/readyz"), never the raw path, so its values are bounded; method is one
// of the standard methods or "OTHER".
type RequestObserver interface {
	ObserveRequest(method, route string, code int, elapsed time.Duration)
}

// routeUnmatched labels requests no route took (404s, 405s).
const routeUnmatched = "unmatched"

// routeRecord is where the gateway tells the outer middleware which of its
// routes matched: the gateway's patterns live behind one "/v1/" entry of
// the mux, so the mux alone cannot name them.
type routeRecord struct{ route string }

type routeRecordKey struct{}

// observeRequests reports every request that h answers to obs.
func observeRequests(h http.Handler, obs RequestObserver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		rec := &routeRecord{}
		r = r.WithContext(context.WithValue(r.Context(), routeRecordKey{}, rec))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// r.Pattern is set by the mux on this very request value.
			obs.ObserveRequest(methodLabel(r.Method), routeLabel(rec.route, r.Pattern), sw.code(), time.Since(began))
		}()
		h.ServeHTTP(sw, r)
	})
}

// recordGatewayRoute is a grpc-gateway middleware: it runs once the gateway
// matched a route and records the route's pattern.
func recordGatewayRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if rec, ok := r.Context().Value(routeRecordKey{}).(*routeRecord); ok {
			if pattern, ok := runtime.HTTPPattern(r.Context()); ok {
				rec.route = gatewayRoute(pattern.String())
			}
		}
		next(w, r, params)
	}
}

// gatewayRoute turns the gateway's pattern ("/v1/orders/{order_id=*}:pay")
// into the template form of the proto ("/v1/orders/{order_id}:pay").
func gatewayRoute(pattern string) string {
	return strings.ReplaceAll(pattern, "=*}", "}")
}

// routeLabel prefers the gateway's route, then the mux pattern without its
// method ("GET /readyz" → "/readyz").
func routeLabel(gateway, muxPattern string) string {
	switch {
	case gateway != "":
		return gateway
	case muxPattern != "":
		if _, path, found := strings.Cut(muxPattern, " "); found {
			return path
		}
		return muxPattern
	}
	return routeUnmatched
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// code is the status sent (200 when the handler wrote nothing).
func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

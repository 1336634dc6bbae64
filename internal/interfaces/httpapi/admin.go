package httpapi

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"
)

// AdminConfig is what the admin listener serves besides pprof.
type AdminConfig struct {
	// Metrics is served at GET /metrics; nil: not served.
	Metrics http.Handler
	// Relay is the outbox relay's detailed status, served as JSON at GET
	// /admin/relay; nil: not served.
	Relay func() any
	// Consistency checks the read model against the event log, served as
	// JSON at GET /admin/consistency (200 clean, 409 drift found); nil: not
	// served. It reads every event: run it when the database can take it.
	Consistency func(ctx context.Context) (report any, clean bool, err error)
}

// AdminProfileWriteTimeout is the write timeout the admin server needs: a
// CPU profile or execution trace streams for its whole duration (30 s by
// default, ?seconds= up to this).
const AdminProfileWriteTimeout = 2 * time.Minute

// NewAdminHandler returns the operators' handler for the admin listener
// (ADMIN_ADDR): profiling (/debug/pprof/…), /metrics, /admin/relay and
// /healthz. It has no authentication of its own: the listener belongs on
// loopback or a network only operators reach.
func NewAdminHandler(cfg AdminConfig) http.Handler {
	mux := http.NewServeMux()
	// Registered on this mux by hand: the package's init registers the same
	// handlers on http.DefaultServeMux, which the service never serves.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", liveness)
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Relay != nil {
		mux.HandleFunc("GET /admin/relay", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, cfg.Relay())
		})
	}
	if cfg.Consistency != nil {
		mux.HandleFunc("GET /admin/consistency", func(w http.ResponseWriter, r *http.Request) {
			report, clean, err := cfg.Consistency(r.Context())
			switch {
			case err != nil:
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			case clean:
				writeJSON(w, http.StatusOK, report)
			default:
				writeJSON(w, http.StatusConflict, report)
			}
		})
	}
	return mux
}

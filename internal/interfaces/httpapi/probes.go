package httpapi

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"time"
)

// liveness answers as long as the process serves HTTP: it must not depend on
// the database, or an outage there would get healthy instances restarted.
func liveness(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// readiness tells load balancers whether to send traffic here: 200 or 503,
// with a JSON body naming the reason and, for operators, informational
// sections (the relay's state) that never change the answer — a broker
// outage must not take away the service's ability to take commands.
//
//	{"status":"ready","database":"ok","relay":{"state":"caught-up",…}}
//	{"status":"not ready","database":"database unreachable: …","relay":{…}}
func readiness(ready func(context.Context) error, timeout time.Duration, info func() map[string]any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		body := map[string]any{}
		if info != nil {
			maps.Copy(body, info())
		}
		code := http.StatusOK
		body["status"], body["database"] = "ready", "ok"
		if err := ready(ctx); err != nil {
			code = http.StatusServiceUnavailable
			body["status"], body["database"] = "not ready", err.Error()
		}
		writeJSON(w, code, body)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, "cannot encode the answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n')) // the client is gone if this fails
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(text + "\n")) // the client is gone if this fails
}

// document serves the OpenAPI document.
func document(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(doc) // the client is gone if this fails
	})
}

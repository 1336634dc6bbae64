// Package openapi holds the OpenAPI 2.0 (Swagger) document of the REST
// mapping of order.v1.OrderService, so the server can serve it.
//
// order.swagger.json is generated from proto/ by protoc-gen-openapiv2
// (scripts/generate.sh); do not edit it by hand. Its document-level settings
// are in openapi.config.yaml.
package openapi

import (
	_ "embed"
	"net/http"
)

// FileName is the name of the embedded document.
const FileName = "order.swagger.json"

//go:embed order.swagger.json
var spec string

// JSON returns the OpenAPI document. Each call returns a fresh copy, so the
// caller may modify it.
func JSON() []byte {
	return []byte(spec)
}

// Handler serves the OpenAPI document as application/json on any path; mount
// it where the document should live, e.g. "/openapi.json".
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		if r.Method == http.MethodGet {
			_, _ = w.Write(JSON())
		}
	})
}

// Package httpapi is the REST edge of the order service: grpc-gateway routes
// under /v1 that call the gRPC server over a client connection, plus the
// probes (/healthz, /readyz), /metrics and the OpenAPI document
// (/openapi.json), every request observed by its route pattern; and the
// operators' admin handler (pprof, /metrics, /admin/relay).
//
// Going through a real gRPC connection (in-memory, see DialInProcess), rather
// than grpc-gateway's RegisterOrderServiceHandlerServer, means every REST call
// runs the same interceptors as a gRPC call: authentication, rate limiting,
// validation, deadlines, logging and error mapping are defined once, in
// package grpcapi.
package httpapi

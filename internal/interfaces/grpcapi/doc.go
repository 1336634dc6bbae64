// Package grpcapi is the gRPC edge of the order service. It implements
// order.v1.OrderService on top of the application's commands and queries,
// turns application and domain errors into google.rpc statuses (once, here),
// and builds the *grpc.Server with the interceptor chain every call passes
// through: metrics (when configured), panic recovery, request logging,
// deadlines, authentication and the per-principal rate limit,
// protovalidate, error mapping; a stats handler (tracing) may see each call
// before them. Requests are decoded ahead of that chain by the server's own
// codec and method wrappers (codec.go), so that bytes that do not decode and
// oversized requests are refused with details too. It also owns
// the transport security of the gRPC port (TLS, optionally mutual).
//
// The REST gateway (package httpapi) calls this server over a client
// connection — an in-process one, see Listener — rather than calling the
// service directly, so both transports share that chain.
package grpcapi

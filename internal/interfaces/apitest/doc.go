// Package apitest runs the whole API edge in process for tests: the
// application over the in-memory store (with fault injection), the gRPC
// server on a loopback port, and the REST gateway (connected to that server
// in process, as in the service) behind an httptest server.
// It also offers a REST client with the gRPC client's interface, so one test
// can run unchanged over both transports.
package apitest

package server

import (
	"io"
	"log/slog"

	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
	"github.com/acme/order-service/internal/telemetry"
)

// NewLogger returns the service's logger: JSON or text as configured, with
// the service name and cell on every line, and the request and trace ids on
// every line logged while serving a call.
func NewLogger(w io.Writer, cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(telemetry.NewLogHandler(h, grpcapi.RequestIDFrom)).With("service", cfg.ServiceName, "cell", cfg.CellID)
}

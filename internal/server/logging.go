package server

import (
	"io"
	"log/slog"

	"github.com/acme/order-service/internal/config"
)

// NewLogger returns the service's logger: JSON or text as configured, with
// the service name and cell on every line.
func NewLogger(w io.Writer, cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h).With("service", cfg.ServiceName, "cell", cfg.CellID)
}

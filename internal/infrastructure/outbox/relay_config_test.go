package outbox_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/testkit"
)

func TestRelayConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  outbox.RelayConfig
		want string // "" = valid; else a part of the error
	}{
		{"zero takes the defaults", outbox.RelayConfig{}, ""},
		{"defaults", outbox.DefaultRelayConfig(), ""},
		{"largest batch", outbox.RelayConfig{BatchSize: outbox.MaxRelayBatchSize}, ""},
		{"equal backoffs", outbox.RelayConfig{MinBackoff: time.Second, MaxBackoff: time.Second}, ""},
		{"negative batch", outbox.RelayConfig{BatchSize: -1}, "batch size"},
		{"huge batch", outbox.RelayConfig{BatchSize: outbox.MaxRelayBatchSize + 1}, "batch size"},
		{"negative poll interval", outbox.RelayConfig{PollInterval: -time.Second}, "poll interval"},
		{"negative publish timeout", outbox.RelayConfig{PublishTimeout: -1}, "publish timeout"},
		{"min above max", outbox.RelayConfig{MinBackoff: 2 * time.Second, MaxBackoff: time.Second}, "min backoff"},
		{"min above the default max", outbox.RelayConfig{MinBackoff: time.Hour}, "min backoff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckError(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestNewRelayRefusesAnInvalidConfig(t *testing.T) {
	cfg := outbox.RelayConfig{MinBackoff: time.Minute, MaxBackoff: time.Second}
	if _, err := outbox.NewRelay(nil, nil, cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("NewRelay accepted MinBackoff above MaxBackoff")
	}
}

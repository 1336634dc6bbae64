package grpcapi_test

import (
	"testing"
	"time"

	"github.com/acme/order-service/internal/interfaces/grpcapi"
	"github.com/acme/order-service/internal/testkit"
)

func TestServerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  grpcapi.ServerConfig
		want string // "" = valid; else a part of the error
	}{
		{"zero takes the defaults", grpcapi.ServerConfig{}, ""},
		{"defaults", grpcapi.DefaultServerConfig(), ""},
		{"default equal to max", grpcapi.ServerConfig{DefaultTimeout: time.Minute, MaxTimeout: time.Minute}, ""},
		{"smallest message", grpcapi.ServerConfig{MaxRecvMsgSize: grpcapi.MinMaxRecvMsgSize}, ""},
		{"negative timeout", grpcapi.ServerConfig{DefaultTimeout: -time.Second}, "default timeout"},
		{"negative keepalive", grpcapi.ServerConfig{KeepaliveTime: -1}, "keepalive time"},
		{"negative message size", grpcapi.ServerConfig{MaxRecvMsgSize: -1}, "max message size"},
		{"tiny message size", grpcapi.ServerConfig{MaxRecvMsgSize: 100}, "max message size"},
		{"huge message size", grpcapi.ServerConfig{MaxRecvMsgSize: grpcapi.MaxMaxRecvMsgSize + 1}, "max message size"},
		{"too many streams", grpcapi.ServerConfig{MaxConcurrentStreams: grpcapi.MaxMaxConcurrentStreams + 1}, "streams"},
		{"default above max", grpcapi.ServerConfig{DefaultTimeout: time.Minute, MaxTimeout: time.Second}, "above max timeout"},
		{"default above the default max", grpcapi.ServerConfig{DefaultTimeout: time.Hour}, "above max timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckError(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestNewServerRefusesAnInvalidConfig(t *testing.T) {
	cfg := grpcapi.ServerConfig{Authenticator: grpcapi.AllowAnonymous{}, MaxRecvMsgSize: -1}
	if _, err := grpcapi.NewServer(grpcapi.NewService(nil), cfg, nil, nil); err == nil {
		t.Fatal("NewServer accepted a negative message size")
	}
}

package config

import (
	"strings"
	"testing"
)

func TestTracingIsOffUnlessAnExporterIsConfigured(t *testing.T) {
	for _, c := range []struct {
		name        string
		vars        map[string]string
		enabled     bool
		protocol    string
		serviceName string
		endpoint    string
	}{
		{"nothing", nil, false, "http/protobuf", "order-service", ""},
		{"an endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, true, "http/protobuf", "order-service", "http://otel:4318"},
		{"a traces endpoint, gRPC", map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://user:pw@otel:4317/x?token=t", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		}, true, "grpc", "order-service", "https://otel:4317/x"},
		{"the exporter alone", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "SERVICE_NAME": "orders"}, true, "http/protobuf", "orders", ""},
		{"exporter none wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, false, "http/protobuf", "order-service", "http://otel:4318"},
		{"SDK disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, false, "http/protobuf", "order-service", "http://otel:4318"},
		{"own service name", map[string]string{"OTEL_SERVICE_NAME": "orders-eu", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, false, "grpc", "orders-eu", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(env(c.vars))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TracingEnabled() != c.enabled || cfg.OTLPProtocol != c.protocol || cfg.OTelServiceName != c.serviceName || cfg.OTLPEndpoint != c.endpoint {
				t.Errorf("enabled %v, protocol %q, service %q, endpoint %q", cfg.TracingEnabled(), cfg.OTLPProtocol, cfg.OTelServiceName, cfg.OTLPEndpoint)
			}
		})
	}
	_, err := Load(env(map[string]string{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}))
	if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_EXPORTER") || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Errorf("unsupported exporter and protocol: %v", err)
	}
}

func TestAdminOnLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:6060": true, "localhost:6060": true, "[::1]:6060": true,
		":6060": false, "0.0.0.0:6060": false, "10.1.2.3:6060": false,
	} {
		cfg, err := Load(env(map[string]string{"ADMIN_ADDR": addr}))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.AdminOnLoopback(); got != want {
			t.Errorf("ADMIN_ADDR=%s: loopback %v, want %v", addr, got, want)
		}
	}
}

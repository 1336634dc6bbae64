package config

import (
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestDefaultsSelectTheEmbeddedMode(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Embedded() || !c.EmbeddedKafka() {
		t.Fatalf("with no environment the service must run embedded: %+v", c)
	}
	if c.GRPCAddr != ":9000" || c.HTTPAddr != ":8080" || c.ServiceName != "order-service" || c.LogFormat != "text" ||
		c.KafkaTopic != "order-events" || c.RequestTimeout != 10*time.Second || c.DataDir != "./data" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestSeedEnvironment(t *testing.T) {
	c, err := Load(env(map[string]string{
		"SERVICE_NAME": "order-service", "CELL_ID": "cell-001",
		"DATABASE_URL":  "postgresql://user:pass@localhost:5432/orders",
		"KAFKA_BROKERS": "localhost:9092, kafka-2:9092",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Embedded() || c.EmbeddedKafka() || len(c.KafkaBrokers) != 2 || c.CellID != "cell-001" || c.LogFormat != "json" {
		t.Fatalf("seed environment read as %+v", c)
	}
}

func TestEveryBadVariableIsNamedAndNoPasswordLeaks(t *testing.T) {
	_, err := Load(env(map[string]string{
		"DATABASE_URL":       "mysql://root:s3cret@db/orders",
		"KAFKA_BROKERS":      "no-port",
		"GRPC_ADDR":          "9000",
		"REQUEST_TIMEOUT":    "soon",
		"DB_MAX_CONNS":       "0",
		"LOG_FORMAT":         "xml",
		"CELL_ID":            "cell 1",
		"KAFKA_CREATE_TOPIC": "maybe",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	msg := err.Error()
	for _, name := range []string{"DATABASE_URL", "KAFKA_BROKERS", "GRPC_ADDR", "REQUEST_TIMEOUT", "DB_MAX_CONNS", "LOG_FORMAT", "CELL_ID", "KAFKA_CREATE_TOPIC"} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s:\n%s", name, msg)
		}
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("error leaks the password:\n%s", msg)
	}
}

func TestRedact(t *testing.T) {
	got := Redact("postgresql://user:pass@localhost:5432/orders?sslmode=disable")
	if strings.Contains(got, "pass@") || !strings.Contains(got, "user:xxxxx@localhost:5432/orders") {
		t.Fatalf("Redact = %q", got)
	}
}

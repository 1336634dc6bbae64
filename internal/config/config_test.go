package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
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
		"AUTH_MODE":     "off",
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

// seed is the seed's production environment, which since authentication
// exists needs keys (or AUTH_MODE=off) to start.
func seed(extra map[string]string) map[string]string {
	vars := map[string]string{
		"SERVICE_NAME": "order-service", "CELL_ID": "cell-001",
		"DATABASE_URL":  "postgresql://user:pass@localhost:5432/orders",
		"KAFKA_BROKERS": "localhost:9092",
	}
	for k, v := range extra {
		vars[k] = v
	}
	return vars
}

func TestAuthDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthMode != AuthOff || c.AuthEnabled() {
		t.Errorf("embedded default AuthMode = %q, want off", c.AuthMode)
	}
	if c.AuthStaffScope != "orders:staff" || c.AuthAdminScope != "orders:admin" || c.AuthClockSkew != 30*time.Second ||
		strings.Join(c.AuthRoleClaims, ",") != "roles,scope" || c.RateLimitRPS != 50 || c.RateLimitBurst != 100 || c.TLSEnabled() {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestDatabaseURLWithoutAuthConfigFails(t *testing.T) {
	_, err := Load(env(seed(nil)))
	if err == nil || !strings.Contains(err.Error(), "AUTH_MODE") || !strings.Contains(err.Error(), "AUTH_JWKS_URL") {
		t.Fatalf("DATABASE_URL without keys = %v, want an error naming AUTH_MODE and the key variables", err)
	}
	if c, err := Load(env(seed(map[string]string{"AUTH_MODE": "off"}))); err != nil || c.AuthEnabled() {
		t.Fatalf("explicit AUTH_MODE=off = %v, %v", c.AuthMode, err)
	}
}

func TestJWKSNeedsIssuerAndAudience(t *testing.T) {
	_, err := Load(env(seed(map[string]string{"AUTH_JWKS_URL": "https://idp.example.com/.well-known/jwks.json"})))
	if err == nil || !strings.Contains(err.Error(), "AUTH_ISSUER") || !strings.Contains(err.Error(), "AUTH_AUDIENCE") {
		t.Fatalf("JWKS without issuer and audience = %v", err)
	}
	c, err := Load(env(seed(map[string]string{
		"AUTH_JWKS_URL": "https://idp.example.com/.well-known/jwks.json",
		"AUTH_ISSUER":   "https://idp.example.com/", "AUTH_AUDIENCE": "order-service",
		"AUTH_ROLE_CLAIM": "https://example.com/roles, scp", "AUTH_STAFF_SCOPE": "orders.staff",
		"AUTH_ADMIN_SCOPE": "orders.admin", "AUTH_CLOCK_SKEW": "0s",
		"RATE_LIMIT_RPS": "2.5", "RATE_LIMIT_BURST": "5",
	})))
	if err != nil {
		t.Fatal(err)
	}
	if !c.AuthEnabled() || c.AuthIssuer != "https://idp.example.com/" || c.AuthAudience != "order-service" ||
		strings.Join(c.AuthRoleClaims, "|") != "https://example.com/roles|scp" || c.AuthStaffScope != "orders.staff" ||
		c.AuthClockSkew != 0 || c.RateLimitRPS != 2.5 || c.RateLimitBurst != 5 {
		t.Fatalf("read as %+v", c)
	}
}

func TestKeyConfigTurnsAuthOnWhenEmbedded(t *testing.T) {
	secret := strings.Repeat("k", 32)
	c, err := Load(env(map[string]string{"AUTH_HS256_SECRET": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.AuthEnabled() || c.AuthHS256Secret.Reveal() != secret {
		t.Fatalf("an embedded service with a secret runs with AuthMode %q", c.AuthMode)
	}
	if c, err := Load(env(seed(map[string]string{"AUTH_HS256_SECRET": secret}))); err != nil || !c.AuthEnabled() {
		t.Fatalf("HS256 with DATABASE_URL = %q, %v", c.AuthMode, err)
	}
}

func TestBadAuthVariablesAreNamedAndSecretsNeverEchoed(t *testing.T) {
	const shortSecret = "hunter2-too-short"
	const urlSecret = "s3cretpass"
	_, err := Load(env(seed(map[string]string{
		"AUTH_MODE":          "maybe",
		"AUTH_HS256_SECRET":  shortSecret,
		"AUTH_JWKS_URL":      "http://admin:" + urlSecret + "@idp.example.com/jwks",
		"AUTH_ROLE_CLAIM":    "roles,,scope",
		"AUTH_STAFF_SCOPE":   "orders staff",
		"AUTH_CLOCK_SKEW":    "1h",
		"TLS_KEY_FILE":       "/etc/tls/key.pem",
		"TLS_CLIENT_CA_FILE": "/etc/tls/ca.pem",
		"RATE_LIMIT_RPS":     "-1",
		"RATE_LIMIT_BURST":   "lots",
	})))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	msg := err.Error()
	for _, name := range []string{"AUTH_MODE", "AUTH_HS256_SECRET", "AUTH_JWKS_URL", "AUTH_ROLE_CLAIM", "AUTH_STAFF_SCOPE",
		"AUTH_CLOCK_SKEW", "TLS_CERT_FILE", "TLS_CLIENT_CA_FILE", "RATE_LIMIT_RPS", "RATE_LIMIT_BURST"} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s:\n%s", name, msg)
		}
	}
	for _, secret := range []string{shortSecret, urlSecret} {
		if strings.Contains(msg, secret) {
			t.Errorf("error echoes a secret:\n%s", msg)
		}
	}
}

func TestConflictingKeySources(t *testing.T) {
	_, err := Load(env(seed(map[string]string{
		"AUTH_HS256_SECRET": strings.Repeat("k", 32), "AUTH_JWKS_FILE": "/etc/jwks.json",
		"AUTH_ISSUER": "i", "AUTH_AUDIENCE": "a",
	})))
	if err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Fatalf("two key sources = %v", err)
	}
}

func TestJWKSURLMustBeHTTPSExceptOnLoopback(t *testing.T) {
	for url, ok := range map[string]bool{
		"https://idp.example.com/jwks": true,
		"http://127.0.0.1:8081/jwks":   true,
		"http://localhost/jwks":        true,
		"http://idp.example.com/jwks":  false,
		"/jwks.json":                   false,
	} {
		_, err := Load(env(seed(map[string]string{"AUTH_JWKS_URL": url, "AUTH_ISSUER": "i", "AUTH_AUDIENCE": "a"})))
		if (err == nil) != ok {
			t.Errorf("AUTH_JWKS_URL=%s: err = %v, want ok=%v", url, err, ok)
		}
	}
}

func TestSecretIsNeverPrinted(t *testing.T) {
	secret := strings.Repeat("x", 40)
	c, err := Load(env(map[string]string{"AUTH_HS256_SECRET": secret}))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c, "secret", c.AuthHS256Secret)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %x", c, c, c, c.AuthHS256Secret, c.AuthHS256Secret), logged.String(), string(js)} {
		if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
			t.Errorf("secret printed: %s", out)
		}
	}
}

// TestMigrateReadsOnlyWhatItUses: migrate needs the database, not the
// authentication that serving requires with it, and reports its own bad
// settings by name.
func TestMigrateReadsOnlyWhatItUses(t *testing.T) {
	c, err := LoadMigrate(env(seed(map[string]string{"GRPC_ADDR": "nonsense", "AUTH_MODE": "sometimes"})))
	if err != nil {
		t.Fatalf("migrate with the seed environment and no keys = %v", err)
	}
	if c.DatabaseURL == "" || c.ServiceName != "order-service" || c.LogFormat != "json" {
		t.Errorf("migrate read %+v", c)
	}
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{}, "DATABASE_URL"},
		{map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		{seed(map[string]string{"DB_MAX_CONNS": "0"}), "DB_MAX_CONNS"},
		{seed(map[string]string{"LOG_LEVEL": "loud"}), "LOG_LEVEL"},
	} {
		if _, err := LoadMigrate(env(tc.vars)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadMigrate(%v) = %v, want an error naming %s", tc.vars, err, tc.want)
		}
	}
}

// TestComponentSettingsAreJudgedByTheComponent: the defaults come from the
// components, and their Validate refuses a bad value under the variable's
// name.
func TestComponentSettingsAreJudgedByTheComponent(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.CommandMaxAttempts != 5 || c.DefaultCurrency != "USD" || c.RelayBatchSize != 500 || c.RelayPollInterval != time.Second ||
		c.MaxRequestTimeout != 30*time.Second || c.MaxMessageBytes != 1<<20 || c.MaxConcurrentStreams != 256 ||
		c.SnapshotEvery != application.DefaultSnapshotEvery {
		t.Errorf("component defaults read as %+v", c)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"COMMAND_MAX_ATTEMPTS", "0", "above 0"},
		{"COMMAND_MAX_ATTEMPTS", "1000", "max attempts"},
		{"SNAPSHOT_EVERY", "-1", "whole number"},
		{"SNAPSHOT_EVERY", "1000000", "whole number"},
		{"DEFAULT_CURRENCY", "usd", "currency"},
		{"DEFAULT_CURRENCY", "XXX", "currency"},
		{"MAX_REQUEST_TIMEOUT", "5s", "REQUEST_TIMEOUT"},
		{"MAX_MESSAGE_BYTES", "100", "max message size"},
		{"MAX_MESSAGE_BYTES", "-1", "above 0"},
		{"MAX_CONCURRENT_STREAMS", "99999999999", "streams"},
		{"RELAY_BATCH_SIZE", "20000", "batch size"},
		{"RELAY_BATCH_SIZE", "lots", "above 0"},
		{"RELAY_POLL_INTERVAL", "-1s", "positive duration"},
	} {
		_, err := Load(env(map[string]string{tc.name: tc.value}))
		if err == nil || !strings.Contains(err.Error(), tc.name+":") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: %v, want an error naming the variable and %q", tc.name, tc.value, err, tc.want)
		}
	}
}

// Package config reads the service's settings from the environment, applies
// defaults and validates them all at once, so a bad deployment fails at
// start-up with every problem named by its variable — and never echoes a
// password back.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// Config is every setting of the service. The README's configuration table
// lists each variable with its default.
type Config struct {
	ServiceName string // SERVICE_NAME
	CellID      string // CELL_ID

	// DatabaseURL is a PostgreSQL URL; empty selects the embedded SQLite
	// store under DataDir.
	DatabaseURL  string // DATABASE_URL
	DBMaxConns   int32  // DB_MAX_CONNS
	DataDir      string // DATA_DIR
	KafkaBrokers []string
	// EmbeddedKafkaAddr is where the in-process broker listens when
	// KafkaBrokers is empty.
	EmbeddedKafkaAddr string // EMBEDDED_KAFKA_ADDR
	KafkaTopic        string // KAFKA_TOPIC
	TopicPartitions   int32  // KAFKA_TOPIC_PARTITIONS
	TopicReplication  int16  // KAFKA_TOPIC_REPLICATION_FACTOR
	CreateTopic       bool   // KAFKA_CREATE_TOPIC

	GRPCAddr  string // GRPC_ADDR
	HTTPAddr  string // HTTP_ADDR
	AdminAddr string // ADMIN_ADDR: pprof and metrics for operators; empty = off

	LogLevel  slog.Level // LOG_LEVEL
	LogFormat string     // LOG_FORMAT: json or text

	DefaultCurrency      string        // DEFAULT_CURRENCY
	CommandMaxAttempts   int           // COMMAND_MAX_ATTEMPTS
	SnapshotEvery        int           // SNAPSHOT_EVERY: events between snapshots; 0 = off
	RequestTimeout       time.Duration // REQUEST_TIMEOUT
	MaxRequestTimeout    time.Duration // MAX_REQUEST_TIMEOUT
	MaxMessageBytes      int           // MAX_MESSAGE_BYTES
	MaxConcurrentStreams uint32        // MAX_CONCURRENT_STREAMS
	IdempotencyRetention time.Duration // IDEMPOTENCY_RETENTION
	ShutdownTimeout      time.Duration // SHUTDOWN_TIMEOUT
	RelayBatchSize       int           // RELAY_BATCH_SIZE
	RelayPollInterval    time.Duration // RELAY_POLL_INTERVAL

	// AuthMode is "jwt" (callers present a bearer JWT) or "off" (everyone
	// is the anonymous administrator: local development only). The default
	// is "off" only for the embedded store with no key configured.
	AuthMode        string        // AUTH_MODE
	AuthJWKSFile    string        // AUTH_JWKS_FILE
	AuthJWKSURL     string        // AUTH_JWKS_URL
	AuthHS256Secret Secret        // AUTH_HS256_SECRET: development only
	AuthIssuer      string        // AUTH_ISSUER
	AuthAudience    string        // AUTH_AUDIENCE
	AuthRoleClaims  []string      // AUTH_ROLE_CLAIM: comma-separated claim names
	AuthStaffScope  string        // AUTH_STAFF_SCOPE
	AuthAdminScope  string        // AUTH_ADMIN_SCOPE
	AuthClockSkew   time.Duration // AUTH_CLOCK_SKEW

	// TLS for the gRPC port; with a client CA, clients need a certificate.
	TLSCertFile     string // TLS_CERT_FILE
	TLSKeyFile      string // TLS_KEY_FILE
	TLSClientCAFile string // TLS_CLIENT_CA_FILE

	RateLimitRPS   float64 // RATE_LIMIT_RPS: per principal; 0 = no limit
	RateLimitBurst int     // RATE_LIMIT_BURST

	// Tracing (OpenTelemetry) is off unless an exporter is configured:
	// OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint. The exporter reads
	// the other OTEL_EXPORTER_OTLP_* variables itself, the SDK its sampler
	// (OTEL_TRACES_SAMPLER).
	TracesExporter  string // OTEL_TRACES_EXPORTER: otlp or none
	OTLPProtocol    string // OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
	OTLPEndpoint    string // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT (for the log)
	OTelServiceName string // OTEL_SERVICE_NAME: service.name on spans; default SERVICE_NAME
}

// Trace exporters (OTEL_TRACES_EXPORTER).
const (
	ExporterOTLP = "otlp"
	ExporterNone = "none"
)

// TracingEnabled reports whether spans are recorded and exported.
func (c Config) TracingEnabled() bool { return c.TracesExporter == ExporterOTLP }

// AdminOnLoopback reports whether the admin listener (pprof, metrics) is
// reachable from this host only.
func (c Config) AdminOnLoopback() bool {
	host, _, err := net.SplitHostPort(c.AdminAddr)
	return err == nil && isLoopback(host)
}

// Authentication modes.
const (
	AuthJWT = "jwt"
	AuthOff = "off"
)

// AuthEnabled reports whether callers must present a token.
func (c Config) AuthEnabled() bool { return c.AuthMode == AuthJWT }

// TLSEnabled reports whether the gRPC port speaks TLS.
func (c Config) TLSEnabled() bool { return c.TLSCertFile != "" }

// Secret is a configuration value that must never be printed: fmt, slog and
// JSON all show it redacted. Reveal returns the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Embedded reports whether the store is the embedded SQLite database.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// EmbeddedKafka reports whether the service runs its own Kafka-protocol broker.
func (c Config) EmbeddedKafka() bool { return len(c.KafkaBrokers) == 0 }

// Load reads the configuration of the service through getenv (os.Getenv in
// production).
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	var c Config
	r.base(&c)
	r.serve(&c)
	return c, errors.Join(r.errs...)
}

// LoadMigrate reads what `server migrate` uses: the service's name, the
// logging and the database, which it requires. Nothing else is read, so
// settings migration does not need (authentication, listeners) cannot stop
// it.
func LoadMigrate(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	var c Config
	r.base(&c)
	if c.Embedded() {
		r.fail("DATABASE_URL", "is required to migrate (the embedded database migrates itself at start-up)")
	}
	return c, errors.Join(r.errs...)
}

// base reads what every command of the server uses: who it is, how it logs
// and where its data lives.
func (r *reader) base(c *Config) {
	c.ServiceName = r.name("SERVICE_NAME", "order-service")
	c.CellID = r.name("CELL_ID", "local")
	c.DatabaseURL = r.databaseURL("DATABASE_URL")
	c.DBMaxConns = int32(r.intIn("DB_MAX_CONNS", 16, 1, 1000))
	c.DataDir = r.str("DATA_DIR", "./data")
	c.LogLevel = r.level("LOG_LEVEL", slog.LevelInfo)
	// Local runs read text logs; production log pipelines want JSON.
	defaultFormat := "json"
	if c.Embedded() {
		defaultFormat = "text"
	}
	c.LogFormat = r.oneOf("LOG_FORMAT", defaultFormat, "json", "text")
}

// serve reads what serving needs besides base: messaging, listeners,
// limits, security and tracing.
func (r *reader) serve(c *Config) {
	c.KafkaBrokers = r.brokers("KAFKA_BROKERS")
	c.EmbeddedKafkaAddr = r.addr("EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092")
	c.KafkaTopic = r.name("KAFKA_TOPIC", "order-events")
	c.TopicPartitions = int32(r.intIn("KAFKA_TOPIC_PARTITIONS", 6, 1, 10_000))
	c.TopicReplication = int16(r.intIn("KAFKA_TOPIC_REPLICATION_FACTOR", -1, -1, 100))
	c.CreateTopic = r.boolean("KAFKA_CREATE_TOPIC", true)
	c.GRPCAddr = r.addr("GRPC_ADDR", ":9000")
	c.HTTPAddr = r.addr("HTTP_ADDR", ":8080")
	c.AdminAddr = r.optionalAddr("ADMIN_ADDR")
	r.commands(c)
	r.grpc(c)
	c.IdempotencyRetention = r.duration("IDEMPOTENCY_RETENTION", 24*time.Hour)
	c.ShutdownTimeout = r.duration("SHUTDOWN_TIMEOUT", 20*time.Second)
	r.relay(c)
	r.auth(c)
	r.tls(c)
	c.RateLimitRPS = r.floatIn("RATE_LIMIT_RPS", 50, 0, 1_000_000)
	c.RateLimitBurst = r.intIn("RATE_LIMIT_BURST", 100, 1, 1_000_000)
	r.tracing(c)
}

// The settings of components read below take their defaults from the
// component and are judged by its Validate: each variable goes into an
// otherwise zero component config (zero fields count as the defaults), so
// the error names the variable and the rules live in one place.

// commands reads the command handlers' settings.
func (r *reader) commands(c *Config) {
	def := application.DefaultCommandsConfig()
	c.DefaultCurrency = r.str("DEFAULT_CURRENCY", string(def.DefaultCurrency))
	r.check("DEFAULT_CURRENCY", application.CommandsConfig{DefaultCurrency: order.Currency(c.DefaultCurrency)}.Validate())
	c.CommandMaxAttempts = r.positive("COMMAND_MAX_ATTEMPTS", def.MaxAttempts)
	r.check("COMMAND_MAX_ATTEMPTS", application.CommandsConfig{MaxAttempts: c.CommandMaxAttempts}.Validate())
	c.SnapshotEvery = r.intIn("SNAPSHOT_EVERY", application.DefaultSnapshotEvery, 0, maxSnapshotEvery)
}

// maxSnapshotEvery bounds SNAPSHOT_EVERY: an interval beyond the longest
// history an order may have would never write a snapshot; say 0 for off.
const maxSnapshotEvery = 100_000

// grpc reads the gRPC server's limits.
func (r *reader) grpc(c *Config) {
	def := grpcapi.DefaultServerConfig()
	c.RequestTimeout = r.duration("REQUEST_TIMEOUT", def.DefaultTimeout)
	c.MaxRequestTimeout = r.duration("MAX_REQUEST_TIMEOUT", def.MaxTimeout)
	if err := (grpcapi.ServerConfig{DefaultTimeout: c.RequestTimeout, MaxTimeout: c.MaxRequestTimeout}).Validate(); err != nil {
		r.fail("MAX_REQUEST_TIMEOUT", "must not be shorter than REQUEST_TIMEOUT (%s): %v", c.RequestTimeout, err)
	}
	c.MaxMessageBytes = r.positive("MAX_MESSAGE_BYTES", def.MaxRecvMsgSize)
	r.check("MAX_MESSAGE_BYTES", grpcapi.ServerConfig{MaxRecvMsgSize: c.MaxMessageBytes}.Validate())
	c.MaxConcurrentStreams = uint32(min(r.positive("MAX_CONCURRENT_STREAMS", int(def.MaxConcurrentStreams)), math.MaxUint32))
	r.check("MAX_CONCURRENT_STREAMS", grpcapi.ServerConfig{MaxConcurrentStreams: c.MaxConcurrentStreams}.Validate())
}

// relay reads the outbox relay's settings.
func (r *reader) relay(c *Config) {
	def := outbox.DefaultRelayConfig()
	c.RelayBatchSize = r.positive("RELAY_BATCH_SIZE", def.BatchSize)
	r.check("RELAY_BATCH_SIZE", outbox.RelayConfig{BatchSize: c.RelayBatchSize}.Validate())
	c.RelayPollInterval = r.duration("RELAY_POLL_INTERVAL", def.PollInterval)
	r.check("RELAY_POLL_INTERVAL", outbox.RelayConfig{PollInterval: c.RelayPollInterval}.Validate())
}

// check reports a component's verdict on a variable.
func (r *reader) check(name string, err error) {
	if err != nil {
		r.fail(name, "%v", err)
	}
}

// positive reads a whole number above zero; a component's Validate judges
// the rest.
func (r *reader) positive(name string, def int) int {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		r.fail(name, "%q is not a whole number above 0", truncate(raw, 30))
		return def
	}
	return n
}

// tracing reads the standard OpenTelemetry variables the service acts on.
// Unlike the OpenTelemetry default (otlp), no configuration means no
// tracing: an exporter retrying an absent collector would be noise.
func (r *reader) tracing(c *Config) {
	c.OTelServiceName = r.name("OTEL_SERVICE_NAME", c.ServiceName)
	endpoint := r.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", r.str("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
	c.OTLPEndpoint = redactEndpoint(endpoint)
	defaultExporter := ExporterNone
	if endpoint != "" {
		defaultExporter = ExporterOTLP
	}
	c.TracesExporter = r.oneOf("OTEL_TRACES_EXPORTER", defaultExporter, ExporterOTLP, ExporterNone)
	if r.boolean("OTEL_SDK_DISABLED", false) {
		c.TracesExporter = ExporterNone
	}
	c.OTLPProtocol = r.oneOf("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		r.oneOf("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "grpc", "http/protobuf"), "grpc", "http/protobuf")
}

// redactEndpoint keeps the scheme, host and path of an OTLP endpoint for
// the start-up log; credentials and query strings stay out.
func redactEndpoint(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// minSecretBytes mirrors auth.MinHS256SecretBytes (config does not import
// the edge).
const minSecretBytes = 32

// auth reads the AUTH_* variables. Authentication is on unless it is
// switched off explicitly or the service runs fully embedded with no key
// configured: a production deployment (DATABASE_URL) without keys must not
// start open to everyone by accident.
func (r *reader) auth(c *Config) {
	c.AuthJWKSFile = r.str("AUTH_JWKS_FILE", "")
	c.AuthJWKSURL = r.jwksURL("AUTH_JWKS_URL")
	c.AuthHS256Secret = Secret(r.str("AUTH_HS256_SECRET", ""))
	sources := 0
	for _, v := range []string{c.AuthJWKSFile, c.AuthJWKSURL, c.AuthHS256Secret.Reveal()} {
		if v != "" {
			sources++
		}
	}
	defaultMode := AuthJWT
	if c.Embedded() && sources == 0 {
		defaultMode = AuthOff
	}
	c.AuthMode = r.oneOf("AUTH_MODE", defaultMode, AuthJWT, AuthOff)
	c.AuthIssuer = r.str("AUTH_ISSUER", "")
	c.AuthAudience = r.str("AUTH_AUDIENCE", "")
	c.AuthRoleClaims = r.claimNames("AUTH_ROLE_CLAIM", []string{"roles", "scope"})
	c.AuthStaffScope = r.scope("AUTH_STAFF_SCOPE", "orders:staff")
	c.AuthAdminScope = r.scope("AUTH_ADMIN_SCOPE", "orders:admin")
	c.AuthClockSkew = r.durationIn("AUTH_CLOCK_SKEW", 30*time.Second, 0, 5*time.Minute)
	if c.AuthStaffScope == c.AuthAdminScope {
		r.fail("AUTH_ADMIN_SCOPE", "must differ from AUTH_STAFF_SCOPE")
	}
	if n := len(c.AuthHS256Secret); n > 0 && n < minSecretBytes {
		r.fail("AUTH_HS256_SECRET", "must be at least %d bytes, got %d", minSecretBytes, n)
	}
	if !c.AuthEnabled() {
		return
	}
	switch {
	case sources == 0 && !c.Embedded():
		r.fail("AUTH_MODE", "authentication is required with DATABASE_URL: set AUTH_JWKS_URL or AUTH_JWKS_FILE "+
			"(or AUTH_HS256_SECRET for development), or AUTH_MODE=off to run without authentication")
	case sources == 0:
		r.fail("AUTH_MODE", "jwt needs AUTH_JWKS_URL, AUTH_JWKS_FILE or AUTH_HS256_SECRET")
	case sources > 1:
		r.fail("AUTH_MODE", "set only one of AUTH_JWKS_URL, AUTH_JWKS_FILE and AUTH_HS256_SECRET")
	}
	// A key set is usually an identity provider's, shared by many services:
	// without issuer and audience checks, a token minted for another service
	// would be accepted here.
	if c.AuthJWKSFile != "" || c.AuthJWKSURL != "" {
		if c.AuthIssuer == "" {
			r.fail("AUTH_ISSUER", "is required with AUTH_JWKS_URL or AUTH_JWKS_FILE")
		}
		if c.AuthAudience == "" {
			r.fail("AUTH_AUDIENCE", "is required with AUTH_JWKS_URL or AUTH_JWKS_FILE")
		}
	}
}

func (r *reader) tls(c *Config) {
	c.TLSCertFile = r.str("TLS_CERT_FILE", "")
	c.TLSKeyFile = r.str("TLS_KEY_FILE", "")
	c.TLSClientCAFile = r.str("TLS_CLIENT_CA_FILE", "")
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		r.fail("TLS_CERT_FILE", "TLS_CERT_FILE and TLS_KEY_FILE go together")
	}
	if c.TLSClientCAFile != "" && c.TLSCertFile == "" {
		r.fail("TLS_CLIENT_CA_FILE", "needs TLS_CERT_FILE and TLS_KEY_FILE: mutual TLS is TLS first")
	}
}

// jwksURL accepts https:// URLs, and http:// ones only for a loopback host
// (a local identity provider). Errors never echo the URL, which may carry
// credentials.
func (r *reader) jwksURL(name string) string {
	raw := r.str(name, "")
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		r.fail(name, "is not an absolute URL")
	case u.User != nil:
		r.fail(name, "must not carry credentials")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		r.fail(name, "must be an https:// URL (http:// only for localhost)")
	}
	return raw
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// claimNames reads a comma-separated list of JWT claim names.
func (r *reader) claimNames(name string, def []string) []string {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	var out []string
	for _, n := range strings.Split(raw, ",") {
		n = strings.TrimSpace(n)
		if n == "" || len(n) > 200 || strings.ContainsFunc(n, isSpaceOrControl) {
			r.fail(name, "%q is not a comma-separated list of claim names", truncate(raw, 100))
			return def
		}
		out = append(out, n)
	}
	return out
}

// scope reads one scope or role value, which must not contain spaces (a
// scope claim is a space-separated list of them).
func (r *reader) scope(name, def string) string {
	v := r.str(name, def)
	if len(v) > 200 || strings.ContainsFunc(v, isSpaceOrControl) {
		r.fail(name, "must be a single scope or role name without spaces")
	}
	return v
}

func isSpaceOrControl(c rune) bool { return c <= ' ' || c == 0x7f }

func (r *reader) floatIn(name string, def, lo, hi float64) float64 {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || !(f >= lo && f <= hi) {
		r.fail(name, "%q is not a number from %g to %g", truncate(raw, 30), lo, hi)
		return def
	}
	return f
}

func (r *reader) durationIn(name string, def, lo, hi time.Duration) time.Duration {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < lo || d > hi {
		r.fail(name, "%q is not a duration from %s to %s", truncate(raw, 30), lo, hi)
		return def
	}
	return d
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// reader collects one error per bad variable instead of stopping at the first.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// name reads an identifier that goes into event metadata and headers.
func (r *reader) name(name, def string) string {
	v := r.str(name, def)
	for _, c := range v {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			r.fail(name, "%q may hold only letters, digits, '-', '_' and '.'", v)
			break
		}
	}
	if len(v) > 100 {
		r.fail(name, "must be at most 100 characters")
	}
	return v
}

func (r *reader) intIn(name string, def, lo, hi int) int {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		r.fail(name, "%q is not a whole number from %d to %d", raw, lo, hi)
		return def
	}
	return n
}

func (r *reader) boolean(name string, def bool) bool {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		r.fail(name, "%q is not true or false", raw)
		return def
	}
	return b
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		r.fail(name, "%q is not a positive duration such as 10s or 5m", raw)
		return def
	}
	return d
}

func (r *reader) addr(name, def string) string {
	v := r.str(name, def)
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		r.fail(name, "%q is not a host:port listen address", v)
	}
	return v
}

func (r *reader) optionalAddr(name string) string {
	if r.str(name, "") == "" {
		return ""
	}
	return r.addr(name, "")
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, "%q must be one of %s", v, strings.Join(allowed, ", "))
	return def
}

func (r *reader) level(name string, def slog.Level) slog.Level {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(raw)); err != nil {
		r.fail(name, "%q must be debug, info, warn or error", raw)
		return def
	}
	return l
}

func (r *reader) brokers(name string) []string {
	raw := r.str(name, "")
	if raw == "" {
		return nil
	}
	var out []string
	for _, b := range strings.Split(raw, ",") {
		b = strings.TrimSpace(b)
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			r.fail(name, "%q is not a host:port broker address", b)
			continue
		}
		out = append(out, b)
	}
	return out
}

// databaseURL accepts postgres:// and postgresql:// URLs (the seed writes
// postgresql://). Errors show the URL with its password masked.
func (r *reader) databaseURL(name string) string {
	raw := r.str(name, "")
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		r.fail(name, "is not a valid URL")
		return raw
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		r.fail(name, "%q must start with postgres:// or postgresql://", Redact(raw))
	}
	return raw
}

// Redact returns a database URL with its password replaced, for logs and
// errors.
func Redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "(unparseable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

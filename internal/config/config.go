// Package config reads the service's settings from the environment, applies
// defaults and validates them all at once, so a bad deployment fails at
// start-up with every problem named by its variable — and never echoes a
// password back.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
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
	RequestTimeout       time.Duration // REQUEST_TIMEOUT
	MaxRequestTimeout    time.Duration // MAX_REQUEST_TIMEOUT
	MaxMessageBytes      int           // MAX_MESSAGE_BYTES
	MaxConcurrentStreams uint32        // MAX_CONCURRENT_STREAMS
	IdempotencyRetention time.Duration // IDEMPOTENCY_RETENTION
	ShutdownTimeout      time.Duration // SHUTDOWN_TIMEOUT
	RelayBatchSize       int           // RELAY_BATCH_SIZE
	RelayPollInterval    time.Duration // RELAY_POLL_INTERVAL
}

// Embedded reports whether the store is the embedded SQLite database.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// EmbeddedKafka reports whether the service runs its own Kafka-protocol broker.
func (c Config) EmbeddedKafka() bool { return len(c.KafkaBrokers) == 0 }

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		ServiceName:          r.name("SERVICE_NAME", "order-service"),
		CellID:               r.name("CELL_ID", "local"),
		DatabaseURL:          r.databaseURL("DATABASE_URL"),
		DBMaxConns:           int32(r.intIn("DB_MAX_CONNS", 16, 1, 1000)),
		DataDir:              r.str("DATA_DIR", "./data"),
		KafkaBrokers:         r.brokers("KAFKA_BROKERS"),
		EmbeddedKafkaAddr:    r.addr("EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092"),
		KafkaTopic:           r.name("KAFKA_TOPIC", "order-events"),
		TopicPartitions:      int32(r.intIn("KAFKA_TOPIC_PARTITIONS", 6, 1, 10_000)),
		TopicReplication:     int16(r.intIn("KAFKA_TOPIC_REPLICATION_FACTOR", -1, -1, 100)),
		CreateTopic:          r.boolean("KAFKA_CREATE_TOPIC", true),
		GRPCAddr:             r.addr("GRPC_ADDR", ":9000"),
		HTTPAddr:             r.addr("HTTP_ADDR", ":8080"),
		AdminAddr:            r.optionalAddr("ADMIN_ADDR"),
		LogLevel:             r.level("LOG_LEVEL", slog.LevelInfo),
		DefaultCurrency:      r.currency("DEFAULT_CURRENCY", "USD"),
		CommandMaxAttempts:   r.intIn("COMMAND_MAX_ATTEMPTS", 5, 1, 100),
		RequestTimeout:       r.duration("REQUEST_TIMEOUT", 10*time.Second),
		MaxRequestTimeout:    r.duration("MAX_REQUEST_TIMEOUT", 30*time.Second),
		MaxMessageBytes:      r.intIn("MAX_MESSAGE_BYTES", 1<<20, 4<<10, 64<<20),
		MaxConcurrentStreams: uint32(r.intIn("MAX_CONCURRENT_STREAMS", 256, 1, 100_000)),
		IdempotencyRetention: r.duration("IDEMPOTENCY_RETENTION", 24*time.Hour),
		ShutdownTimeout:      r.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		RelayBatchSize:       r.intIn("RELAY_BATCH_SIZE", 500, 1, 10_000),
		RelayPollInterval:    r.duration("RELAY_POLL_INTERVAL", time.Second),
	}
	// Local runs read text logs; production log pipelines want JSON.
	defaultFormat := "json"
	if c.Embedded() {
		defaultFormat = "text"
	}
	c.LogFormat = r.oneOf("LOG_FORMAT", defaultFormat, "json", "text")
	if c.MaxRequestTimeout < c.RequestTimeout {
		r.fail("MAX_REQUEST_TIMEOUT", "must not be shorter than REQUEST_TIMEOUT (%s)", c.RequestTimeout)
	}
	return c, errors.Join(r.errs...)
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

func (r *reader) currency(name, def string) string {
	v := r.str(name, def)
	if len(v) != 3 || strings.ToUpper(v) != v {
		r.fail(name, "%q is not an ISO 4217 code such as USD", v)
	}
	return v
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

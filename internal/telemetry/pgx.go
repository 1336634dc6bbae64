package telemetry

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// PgxTracer makes a client span of every PostgreSQL statement and batch the
// service sends on behalf of a traced request (pgx's QueryTracer and
// BatchTracer; set it as the pool's ConnConfig.Tracer). Statements with no
// span in their context — the relay's polling, the lease, migrations — are
// not traced: they would be a root span a second of noise. Statement texts
// are recorded (they are constants with $n placeholders); argument values
// never are.
type PgxTracer struct {
	tracer trace.Tracer
}

var (
	_ pgx.QueryTracer = (*PgxTracer)(nil)
	_ pgx.BatchTracer = (*PgxTracer)(nil)
)

// NewPgxTracer traces with tp.
func NewPgxTracer(tp trace.TracerProvider) *PgxTracer {
	return &PgxTracer{tracer: tracerOf(tp)}
}

// pgxSpanKey marks a context whose span this tracer started, so that the
// end hooks never end a span that belongs to someone else.
type pgxSpanKey struct{}

func (t *PgxTracer) start(ctx context.Context, conn *pgx.Conn, name string, attrs ...attribute.KeyValue) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	attrs = append(attrs, attribute.String("db.system.name", "postgresql"))
	if conn != nil {
		if cfg := conn.Config(); cfg != nil {
			attrs = append(attrs, attribute.String("server.address", cfg.Host), attribute.Int("server.port", int(cfg.Port)),
				attribute.String("db.namespace", cfg.Database))
		}
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, pgxSpanKey{}, span)
}

func (t *PgxTracer) end(ctx context.Context, tag pgconn.CommandTag, err error) {
	span, ok := ctx.Value(pgxSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if err != nil {
		recordDBError(span, err)
	} else {
		span.SetAttributes(attribute.Int64("db.response.rows_affected", tag.RowsAffected()))
	}
	span.End()
}

// TraceQueryStart implements pgx.QueryTracer.
func (t *PgxTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	op := operation(data.SQL)
	return t.start(ctx, conn, "postgresql "+op,
		attribute.String("db.operation.name", op), attribute.String("db.query.text", strings.TrimSpace(data.SQL)))
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *PgxTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	t.end(ctx, data.CommandTag, data.Err)
}

// TraceBatchStart implements pgx.BatchTracer: one span for the batch (one
// round trip), its statements as events.
func (t *PgxTracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	size := 0
	if data.Batch != nil {
		size = data.Batch.Len()
	}
	return t.start(ctx, conn, "postgresql BATCH",
		attribute.String("db.operation.name", "BATCH"), attribute.Int("db.operation.batch.size", size))
}

// TraceBatchQuery implements pgx.BatchTracer.
func (t *PgxTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	span, ok := ctx.Value(pgxSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("db.query.text", strings.TrimSpace(data.SQL))}
	if data.Err != nil {
		attrs = append(attrs, attribute.String("error.type", errorType(data.Err)))
	}
	span.AddEvent("statement", trace.WithAttributes(attrs...))
}

// TraceBatchEnd implements pgx.BatchTracer.
func (t *PgxTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	t.end(ctx, pgconn.CommandTag{}, data.Err)
}

// operation is the statement's first keyword (SELECT, INSERT, BEGIN, …).
func operation(sql string) string {
	sql = strings.TrimSpace(sql)
	end := strings.IndexFunc(sql, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '(' || r == ';' })
	if end < 0 {
		end = len(sql)
	}
	if end == 0 || end > 20 {
		return "QUERY"
	}
	return strings.ToUpper(sql[:end])
}

// errorType is the SQLSTATE of a server error, else the Go type.
func errorType(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled"
	}
	return "error"
}

func recordDBError(span trace.Span, err error) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		span.SetAttributes(attribute.String("db.response.status_code", pgErr.Code))
	}
	span.SetAttributes(attribute.String("error.type", errorType(err)))
	span.SetStatus(codes.Error, errorType(err))
}

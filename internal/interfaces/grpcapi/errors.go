package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// ErrorDomain is the ErrorInfo.domain of every error this service reports.
const ErrorDomain = "orders.acme.example"

// Stable ErrorInfo reasons. Broken business rules use the domain's own
// order.Rule values (PRODUCT_NOT_IN_ORDER, LAST_ITEM, …) as reasons.
const (
	ReasonInvalidArgument       = "INVALID_ARGUMENT"
	ReasonOrderNotFound         = "ORDER_NOT_FOUND"
	ReasonVersionMismatch       = "VERSION_MISMATCH"
	ReasonIllegalTransition     = "ILLEGAL_TRANSITION"
	ReasonRequestIDReused       = "REQUEST_ID_REUSED"
	ReasonPermissionDenied      = "PERMISSION_DENIED"
	ReasonDependencyUnavailable = "DEPENDENCY_UNAVAILABLE"
	ReasonUnauthenticated       = "UNAUTHENTICATED"
	ReasonRateLimited           = "RATE_LIMITED"
)

// Precondition types of PreconditionFailure violations.
const (
	preconditionVersion = "VERSION"
	preconditionStatus  = "STATUS"
)

// msgInternal is all a client learns about an unexpected failure: the cause
// (SQL, driver messages, hosts, stack traces) goes to the log only.
const msgInternal = "internal error"

// errorMappingInterceptor is the innermost interceptor: it turns whatever the
// handler returned into a status with details, and logs the causes that are
// not the client's fault.
func errorMappingInterceptor(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err == nil {
			return resp, nil
		}
		st := toStatus(ctx, err, orderIDOf(req))
		logCause(ctx, logger, info.FullMethod, st.Code(), err)
		return nil, st.Err()
	}
}

// orderIDOf names the order a request is about, the subject of precondition
// failures.
func orderIDOf(req any) string {
	if r, ok := req.(interface{ GetOrderId() string }); ok {
		return r.GetOrderId()
	}
	return ""
}

// toStatus maps an error from the application to the status the client sees.
// orderID is the order the request named, if any.
func toStatus(ctx context.Context, err error, orderID string) *status.Status {
	if st, ok := domainStatus(err, orderID); ok {
		return st
	}
	if st, ok := applicationStatus(err); ok {
		return st
	}
	if st, ok := infrastructureStatus(ctx, err); ok {
		return st
	}
	if st, ok := status.FromError(err); ok {
		return st // already a status, made by this package or by gRPC itself
	}
	return status.New(codes.Internal, msgInternal)
}

func domainStatus(err error, orderID string) (*status.Status, bool) {
	var (
		invalid    *order.ValidationError
		conflict   *order.ConcurrencyError
		transition *order.TransitionError
		rule       *order.RuleError
	)
	switch {
	case errors.As(err, &invalid):
		return invalidArgument(invalid.Error(), invalid.Field, invalid.Reason), true
	case errors.Is(err, order.ErrNotFound):
		return newStatus(codes.NotFound, "order not found", errorInfo(ReasonOrderNotFound, nil)), true
	case errors.As(err, &conflict):
		return versionMismatch(conflict), true
	case errors.As(err, &transition):
		return illegalTransition(transition, orderID), true
	case errors.As(err, &rule):
		return newStatus(codes.FailedPrecondition, rule.Error(), errorInfo(string(rule.Rule), nil)), true
	}
	return nil, false
}

func applicationStatus(err error) (*status.Status, bool) {
	var (
		reused    *application.RequestIDReusedError
		forbidden *application.ForbiddenError
	)
	switch {
	case errors.As(err, &reused):
		return newStatus(codes.InvalidArgument, reused.Error(),
			errorInfo(ReasonRequestIDReused, nil),
			badRequest(fieldViolation("request_id", "was already used with a different request"))), true
	case errors.As(err, &forbidden):
		return newStatus(codes.PermissionDenied, forbidden.Error(), errorInfo(ReasonPermissionDenied, nil)), true
	}
	return nil, false
}

// infrastructureStatus covers failures that are nobody's input: an expired
// or cancelled request, a dependency that is down. The request's own context
// decides first, so a driver error caused by the client's deadline reads as
// DEADLINE_EXCEEDED, not as an outage.
func infrastructureStatus(ctx context.Context, err error) (*status.Status, bool) {
	cause := ctx.Err()
	if cause == nil {
		if errors.Is(err, application.ErrUnavailable) {
			return newStatus(codes.Unavailable, "a dependency is unavailable, retry later",
				errorInfo(ReasonDependencyUnavailable, nil)), true
		}
		cause = err
	}
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded"), true
	case errors.Is(cause, context.Canceled):
		return status.New(codes.Canceled, "request cancelled"), true
	}
	return nil, false
}

func invalidArgument(msg, field, description string) *status.Status {
	return newStatus(codes.InvalidArgument, msg,
		errorInfo(ReasonInvalidArgument, nil), badRequest(fieldViolation(field, description)))
}

func versionMismatch(e *order.ConcurrencyError) *status.Status {
	md := map[string]string{"expected_version": strconv.Itoa(e.ExpectedVersion)}
	if e.CurrentVersion != 0 { // 0: the store could not tell
		md["current_version"] = strconv.Itoa(e.CurrentVersion)
	}
	return newStatus(codes.Aborted, e.Error(),
		errorInfo(ReasonVersionMismatch, md),
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
			Type: preconditionVersion, Subject: e.OrderID.String(), Description: e.Error(),
		}}})
}

func illegalTransition(e *order.TransitionError, orderID string) *status.Status {
	return newStatus(codes.FailedPrecondition, e.Error(),
		errorInfo(ReasonIllegalTransition, map[string]string{"status": string(e.Status), "action": string(e.Action)}),
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
			Type: preconditionStatus, Subject: orderID, Description: e.Error(),
		}}})
}

// rateLimited tells the caller to come back after retryAfter, rounded up to
// whole milliseconds (RetryInfo) and seconds (ErrorInfo metadata, and the
// REST Retry-After header derived from RetryInfo).
func rateLimited(retryAfter time.Duration) *status.Status {
	retryAfter = max((retryAfter + time.Millisecond - 1).Truncate(time.Millisecond), time.Millisecond)
	seconds := int64((retryAfter + time.Second - 1) / time.Second)
	return newStatus(codes.ResourceExhausted, "rate limit exceeded, retry later",
		errorInfo(ReasonRateLimited, map[string]string{"retry_after_seconds": strconv.FormatInt(seconds, 10)}),
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)})
}

func errorInfo(reason string, md map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: md}
}

func badRequest(violations ...*errdetails.BadRequest_FieldViolation) *errdetails.BadRequest {
	return &errdetails.BadRequest{FieldViolations: violations}
}

func fieldViolation(field, description string) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: field, Description: description}
}

// newStatus builds a status with details. Attaching can only fail for
// messages that do not marshal, which these never are; the status without
// details is still the right answer then.
func newStatus(code codes.Code, msg string, details ...protoadapt.MessageV1) *status.Status {
	st := status.New(code, msg)
	if withDetails, err := st.WithDetails(details...); err == nil {
		return withDetails
	}
	return st
}

// logCause records the real error behind the statuses that hide it.
func logCause(ctx context.Context, logger *slog.Logger, method string, code codes.Code, err error) {
	level := slog.LevelWarn
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		level = slog.LevelError
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
	default:
		return // the client's own mistake; the status says it all
	}
	logger.LogAttrs(ctx, level, "request failed",
		slog.String("method", method), slog.String("code", code.String()),
		slog.String("request_id", RequestIDFrom(ctx)), slog.Any("error", err))
}

package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	grpcvalidate "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// validationInterceptor checks requests against the rules declared in the
// proto files. The middleware reports violations as a buf.validate.Violations
// detail; clients of this API get the same google.rpc.BadRequest that domain
// validation produces instead, so one decoder handles both.
func validationInterceptor(logger *slog.Logger) (grpc.UnaryServerInterceptor, error) {
	validator, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("build protovalidate validator: %w", err)
	}
	validate := grpcvalidate.UnaryServerInterceptor(validator)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		reached := false
		resp, err := validate(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			reached = true
			return handler(ctx, req)
		})
		if err == nil || reached {
			return resp, err // the handler's own result, mapped further in
		}
		return nil, validationStatus(ctx, logger, info.FullMethod, err).Err()
	}, nil
}

// validationStatus rewrites the middleware's refusal. Anything but a set of
// violations means a rule that does not compile: a bug here, not bad input.
func validationStatus(ctx context.Context, logger *slog.Logger, method string, err error) *status.Status {
	st := status.Convert(err)
	violations := violationsOf(st)
	if st.Code() != codes.InvalidArgument || len(violations) == 0 {
		logCause(ctx, logger, method, codes.Internal, err)
		return status.New(codes.Internal, msgInternal)
	}
	fields := make([]*errdetails.BadRequest_FieldViolation, len(violations))
	texts := make([]string, len(violations))
	for i, v := range violations {
		fields[i] = fieldViolation(protovalidate.FieldPathString(v.GetField()), describe(v))
		texts[i] = fields[i].GetDescription()
		if field := fields[i].GetField(); field != "" { // a message rule (oneof) names no single field
			texts[i] = field + ": " + texts[i]
		}
	}
	return newStatus(codes.InvalidArgument, "invalid request: "+strings.Join(texts, "; "),
		errorInfo(ReasonInvalidArgument, nil), badRequest(fields...))
}

func violationsOf(st *status.Status) []*validate.Violation {
	var out []*validate.Violation
	for _, d := range st.Details() {
		if v, ok := d.(*validate.Violations); ok {
			out = append(out, v.GetViolations()...)
		}
	}
	return out
}

// describe prefers the rule's human message; predefined rules always have
// one, but a custom rule may only have an id.
func describe(v *validate.Violation) string {
	if msg := v.GetMessage(); msg != "" {
		return msg
	}
	return "breaks rule " + v.GetRuleId()
}

package httpapi

import (
	"context"
	"net/http"
	"net/textproto"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// jsonOptions write field names as in the proto (snake_case, like the seed's
// grpcurl call and the database) and leave out empty fields. Unknown fields
// are refused: a typo such as "shiping_address" gets a 400 naming it instead
// of a confusing "shipping_address is required".
var (
	jsonMarshal   = protojson.MarshalOptions{UseProtoNames: true}
	jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: false}
)

// forwardedHeaders reach the gRPC server as metadata under lower-case keys.
// (The gateway forwards Authorization on its own.)
var forwardedHeaders = map[string]string{
	"X-Request-Id":     grpcapi.MetadataRequestID,
	"X-Correlation-Id": grpcapi.MetadataCorrelationID,
	"Traceparent":      grpcapi.MetadataTraceParent,
	"Tracestate":       "tracestate",
}

// HTTP status codes follow grpc-gateway's (and Google's AIP-193) mapping:
// INVALID_ARGUMENT 400, NOT_FOUND 404, ABORTED 409, PERMISSION_DENIED 403,
// UNAUTHENTICATED 401, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503,
// DEADLINE_EXCEEDED 504, INTERNAL 500. FAILED_PRECONDITION stays 400 rather
// than 409: 409 is kept for ABORTED, which clients handle as "re-read and
// retry", while an illegal transition or a broken rule will fail again on
// retry. The ErrorInfo reason tells the two 400s apart.
func gatewayOptions() []runtime.ServeMuxOption {
	return []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions: jsonMarshal, UnmarshalOptions: jsonUnmarshal,
		}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithErrorHandler(errorHandler),
	}
}

func incomingHeader(key string) (string, bool) {
	if md, ok := forwardedHeaders[textproto.CanonicalMIMEHeaderKey(key)]; ok {
		return md, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeader returns the request id to REST clients and drops the rest of
// the gRPC response metadata, which is transport detail.
func outgoingHeader(key string) (string, bool) {
	if key == grpcapi.MetadataRequestID {
		return "X-Request-Id", true
	}
	return "", false
}

// errorHandler writes google.rpc.Status as JSON, as grpc-gateway does by
// default. Errors the gateway raises itself (a body that is not valid JSON
// for the message, a malformed path or query parameter) carry no details;
// they get the ErrorInfo every other INVALID_ARGUMENT has.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
		if detailed, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: grpcapi.ReasonInvalidArgument, Domain: grpcapi.ErrorDomain}); derr == nil {
			err = detailed.Err()
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
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
		runtime.WithMetadata(clientIP),
	}
}

// clientIP tells the gRPC edge who is calling over HTTP, so that callers
// without a token are rate limited one by one rather than all as the
// gateway. The gateway's own annotation replaces any value a client sends
// under the same name; the edge believes it only on the gateway's in-process
// connection.
func clientIP(_ context.Context, r *http.Request) metadata.MD {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	return metadata.Pairs(grpcapi.MetadataClientIP, host)
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
// they get the ErrorInfo and BadRequest every other INVALID_ARGUMENT has
// (decodeFailure). A status with RetryInfo (rate limited) also sets
// Retry-After, and a 401 carries the RFC 6750 challenge.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st, ok := status.FromError(err)
	if ok && st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
		st = decodeFailure(r.Context(), st)
		err = st.Err()
	}
	if after, found := retryAfter(st); found {
		w.Header().Set("Retry-After", after)
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, bearerChallenge{w}, r, err)
}

// retryAfter is the Retry-After value (whole seconds, rounded up) of a
// status with RetryInfo.
func retryAfter(st *status.Status) (string, bool) {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok && info.GetRetryDelay() != nil {
			delay := info.GetRetryDelay().AsDuration()
			return strconv.FormatInt(int64(max((delay+time.Second-1)/time.Second, 1)), 10), true
		}
	}
	return "", false
}

// bearerChallenge replaces the WWW-Authenticate header grpc-gateway derives
// from the status message with the challenge RFC 6750 defines.
type bearerChallenge struct{ http.ResponseWriter }

func (b bearerChallenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		b.Header().Set("WWW-Authenticate", `Bearer realm="order-service"`)
	}
	b.ResponseWriter.WriteHeader(code)
}

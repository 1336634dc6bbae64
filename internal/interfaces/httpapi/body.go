package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// Reasons of the errors this package raises before a call reaches gRPC.
const (
	ReasonUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	ReasonRequestTooLarge      = grpcapi.ReasonRequestTooLarge
)

// checkBody guards the gateway: a body must be JSON (415 otherwise; a request
// without Content-Type is read as JSON, since the API speaks nothing else) and
// at most max bytes (413). The body is read here, under http.MaxBytesReader,
// because the gateway would report a truncated read as a JSON syntax error.
func checkBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
			writeStatus(w, http.StatusUnsupportedMediaType, unsupportedMediaType(ct))
			return
		}
		if r.ContentLength > max {
			writeStatus(w, http.StatusRequestEntityTooLarge, tooLarge(max))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeStatus(w, http.StatusRequestEntityTooLarge, tooLarge(max))
			return
		case err != nil:
			writeStatus(w, http.StatusBadRequest, status.New(codes.InvalidArgument, "could not read the request body"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r.WithContext(withBody(r.Context(), body)))
	})
}

// isJSON accepts application/json and structured-syntax JSON types such as
// application/merge-patch+json, with any parameters.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func unsupportedMediaType(ct string) *status.Status {
	return withInfo(codes.InvalidArgument, "request body must be application/json", ReasonUnsupportedMediaType,
		map[string]string{"content_type": truncate(ct, 100)})
}

func tooLarge(max int64) *status.Status {
	return withInfo(codes.ResourceExhausted, "request body exceeds "+strconv.FormatInt(max, 10)+" bytes", ReasonRequestTooLarge,
		map[string]string{"max_bytes": strconv.FormatInt(max, 10)})
}

func withInfo(code codes.Code, msg, reason string, md map[string]string) *status.Status {
	st := status.New(code, msg)
	if detailed, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: grpcapi.ErrorDomain, Metadata: md}); err == nil {
		return detailed
	}
	return st
}

// writeStatus answers with a google.rpc.Status body, the shape of every
// other error of the API.
func writeStatus(w http.ResponseWriter, httpStatus int, st *status.Status) {
	body, err := jsonMarshal.Marshal(st.Proto())
	if err != nil { // a Status of strings and ErrorInfo always marshals
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body) // the client is gone if this fails; nothing to do
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

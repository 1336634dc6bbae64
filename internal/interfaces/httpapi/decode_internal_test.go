package httpapi

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// TestDecodeFailureNamesTheField decodes bodies with the gateway's own
// options, so the test breaks if protojson's texts change shape.
func TestDecodeFailureNamesTheField(t *testing.T) {
	const item = `{"product_id":"a","product_name":"A","quantity":1,"unit_price":"1.00"}`
	tests := []struct{ name, body, field string }{
		{"int32 overflow", `{"user_id":"u","items":[` + item + `,{"product_id":"b","quantity":4294967296}]}`, "items[1].quantity"},
		{"string for a number", `{"items":[{"quantity":"two"}]}`, "items[0].quantity"},
		{"number for a string", "{\n  \"user_id\": 123\n}", "user_id"},
		{"null item", `{"items":[null]}`, "items[0]"},
		{"unknown field", `{"user_id":"u","shiping_address":"x"}`, "shiping_address"},
		{"duplicate field", `{"user_id":"u","user_id":"v"}`, "user_id"},
		{"invalid UTF-8 after multibyte text", "{\"shipping_address\":\"Straße\",\"user_id\":\"a\xffb\"}", "user_id"},
		{"lone surrogate", `{"user_id":"u","shipping_address":"Main \ud800 St"}`, "shipping_address"},
		{"paired surrogates are fine, the unknown field is not", `{"shipping_address":"\ud83d\ude00","x":1}`, "x"},
		{"not JSON", `{"user_id":`, "body"},
		{"an array", `[{"user_id":"u"}]`, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := jsonUnmarshal.Unmarshal([]byte(tt.body), &orderv1.CreateOrderRequest{})
			if err == nil {
				t.Fatal("the body decoded")
			}
			ctx := withBody(context.Background(), []byte(tt.body))
			st := decodeFailure(ctx, status.New(codes.InvalidArgument, err.Error()))
			checkDecodeFailure(t, st, tt.field)
		})
	}
}

// TestDecodeFailureOfAParameter: the texts of grpc-gateway's query and
// path parameter parsers.
func TestDecodeFailureOfAParameter(t *testing.T) {
	for msg, field := range map[string]string{
		`parsing field "page_size": strconv.ParseInt: parsing "ten": invalid syntax`: "page_size",
		`type mismatch, parameter: "order_id", error: bad`:                           "order_id",
	} {
		checkDecodeFailure(t, decodeFailure(context.Background(), status.New(codes.InvalidArgument, msg)), field)
	}
}

func checkDecodeFailure(t *testing.T, st *status.Status, field string) {
	t.Helper()
	var fields []string
	var reason string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fields = append(fields, v.GetField())
				if v.GetDescription() == "" {
					t.Errorf("violation of %s has no description", v.GetField())
				}
			}
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		}
	}
	if st.Code() != codes.InvalidArgument || reason != grpcapi.ReasonInvalidArgument {
		t.Errorf("status %v, reason %q", st.Proto(), reason)
	}
	if len(fields) != 1 || fields[0] != field {
		t.Errorf("BadRequest names %v, want %s (%s)", fields, field, protojson.Format(st.Proto()))
	}
}

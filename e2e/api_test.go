package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// restClient is the REST/JSON API (grpc-gateway on HTTP_ADDR) behind the
// generated gRPC client interface, so that one scenario runs over both
// transports. It speaks plain net/http and JSON with the proto field names,
// as curl does in the README. Errors are *restError.
type restClient struct {
	base string
	http *http.Client
}

var _ orderv1.OrderServiceClient = (*restClient)(nil)

func newRESTClient(base string) *restClient {
	return &restClient{base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

// restError is a non-2xx answer: the HTTP status and the google.rpc.Status
// the body holds. status.FromError understands it.
type restError struct {
	HTTPStatus int
	st         *status.Status
}

func (e *restError) Error() string {
	return fmt.Sprintf("HTTP %d: %s: %s", e.HTTPStatus, e.st.Code(), e.st.Message())
}

// GRPCStatus lets status.FromError and status.Code read the body's status.
func (e *restError) GRPCStatus() *status.Status { return e.st }

var (
	restMarshal   = protojson.MarshalOptions{UseProtoNames: true}
	restUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: false}
)

// Raw sends body (may be empty) and returns the status code and body.
func (c *restClient) Raw(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// Do sends a JSON body (nil for none) and decodes a 2xx answer into out; any
// other answer becomes a *restError.
func (c *restClient) Do(ctx context.Context, method, path string, body []byte, out proto.Message) error {
	code, data, err := c.Raw(ctx, method, path, body)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error()) // as gRPC reports a refused connection
	}
	if code < 200 || code > 299 {
		return &restError{HTTPStatus: code, st: decodeStatus(data)}
	}
	if err := restUnmarshal.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode %s %s answer %q: %w", method, path, data, err)
	}
	return nil
}

// decodeStatus reads a google.rpc.Status body written by the gateway.
func decodeStatus(body []byte) *status.Status {
	var sp spb.Status
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &sp); err != nil {
		return status.New(codes.Unknown, fmt.Sprintf("error body is not a google.rpc.Status: %q", body))
	}
	return status.FromProto(&sp)
}

// jsonBody marshals a request with the proto field names and leaves out the
// fields the URL path carries.
func jsonBody(m proto.Message, pathFields ...string) []byte {
	data, err := restMarshal.Marshal(m)
	if err != nil {
		panic(err) // generated messages always marshal
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		panic(err)
	}
	for _, f := range pathFields {
		delete(fields, f)
	}
	out, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return out
}

func orderPath(id string) string { return "/v1/orders/" + url.PathEscape(id) }

func itemPath(orderID, productID string) string {
	return orderPath(orderID) + "/items/" + url.PathEscape(productID)
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func (c *restClient) CreateOrder(ctx context.Context, in *orderv1.CreateOrderRequest, _ ...grpc.CallOption) (*orderv1.CreateOrderResponse, error) {
	out := new(orderv1.CreateOrderResponse)
	return result(out, c.Do(ctx, http.MethodPost, "/v1/orders", jsonBody(in), out))
}

func (c *restClient) GetOrder(ctx context.Context, in *orderv1.GetOrderRequest, _ ...grpc.CallOption) (*orderv1.GetOrderResponse, error) {
	out := new(orderv1.GetOrderResponse)
	return result(out, c.Do(ctx, http.MethodGet, orderPath(in.GetOrderId()), nil, out))
}

func (c *restClient) ListOrders(ctx context.Context, in *orderv1.ListOrdersRequest, _ ...grpc.CallOption) (*orderv1.ListOrdersResponse, error) {
	q := url.Values{"user_id": {in.GetUserId()}}
	if in.GetStatus() != orderv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
		q.Set("status", in.GetStatus().String())
	}
	if in.GetPageSize() != 0 {
		q.Set("page_size", strconv.Itoa(int(in.GetPageSize())))
	}
	if in.GetPageToken() != "" {
		q.Set("page_token", in.GetPageToken())
	}
	out := new(orderv1.ListOrdersResponse)
	return result(out, c.Do(ctx, http.MethodGet, withQuery("/v1/orders", q), nil, out))
}

func (c *restClient) AddOrderItem(ctx context.Context, in *orderv1.AddOrderItemRequest, _ ...grpc.CallOption) (*orderv1.AddOrderItemResponse, error) {
	out := new(orderv1.AddOrderItemResponse)
	return result(out, c.Do(ctx, http.MethodPost, orderPath(in.GetOrderId())+"/items", jsonBody(in, "order_id"), out))
}

func (c *restClient) RemoveOrderItem(ctx context.Context, in *orderv1.RemoveOrderItemRequest, _ ...grpc.CallOption) (*orderv1.RemoveOrderItemResponse, error) {
	q := url.Values{}
	if in.GetExpectedVersion() != 0 {
		q.Set("expected_version", strconv.FormatInt(in.GetExpectedVersion(), 10))
	}
	if in.GetRequestId() != "" {
		q.Set("request_id", in.GetRequestId())
	}
	out := new(orderv1.RemoveOrderItemResponse)
	return result(out, c.Do(ctx, http.MethodDelete, withQuery(itemPath(in.GetOrderId(), in.GetProductId()), q), nil, out))
}

func (c *restClient) ChangeOrderItemQuantity(ctx context.Context, in *orderv1.ChangeOrderItemQuantityRequest, _ ...grpc.CallOption) (*orderv1.ChangeOrderItemQuantityResponse, error) {
	out := new(orderv1.ChangeOrderItemQuantityResponse)
	path := itemPath(in.GetOrderId(), in.GetProductId()) + ":changeQuantity"
	return result(out, c.Do(ctx, http.MethodPost, path, jsonBody(in, "order_id", "product_id"), out))
}

func (c *restClient) ChangeShippingAddress(ctx context.Context, in *orderv1.ChangeShippingAddressRequest, _ ...grpc.CallOption) (*orderv1.ChangeShippingAddressResponse, error) {
	out := new(orderv1.ChangeShippingAddressResponse)
	return result(out, c.Do(ctx, http.MethodPost, orderPath(in.GetOrderId())+":changeShippingAddress", jsonBody(in, "order_id"), out))
}

func (c *restClient) ConfirmOrder(ctx context.Context, in *orderv1.ConfirmOrderRequest, _ ...grpc.CallOption) (*orderv1.ConfirmOrderResponse, error) {
	out := new(orderv1.ConfirmOrderResponse)
	return result(out, c.Do(ctx, http.MethodPost, orderPath(in.GetOrderId())+":confirm", jsonBody(in, "order_id"), out))
}

func (c *restClient) PayOrder(ctx context.Context, in *orderv1.PayOrderRequest, _ ...grpc.CallOption) (*orderv1.PayOrderResponse, error) {
	out := new(orderv1.PayOrderResponse)
	return result(out, c.Do(ctx, http.MethodPost, orderPath(in.GetOrderId())+":pay", jsonBody(in, "order_id"), out))
}

func (c *restClient) ShipOrder(ctx context.Context, in *orderv1.ShipOrderRequest, _ ...grpc.CallOption) (*orderv1.ShipOrderResponse, error) {
	out := new(orderv1.ShipOrderResponse)
	return result(out, c.Do(ctx, http.MethodPost, orderPath(in.GetOrderId())+":ship", jsonBody(in, "order_id"), out))
}

func (c *restClient) DeliverOrder(ctx context.Context, in *orderv1.DeliverOrderRequest, _ ...grpc.CallOption) (*orderv1.DeliverOrderResponse, error) {
	out := new(orderv1.DeliverOrderResponse)
	return result(out, c.Do(ctx, http.MethodPost, orderPath(in.GetOrderId())+":deliver", jsonBody(in, "order_id"), out))
}

func (c *restClient) CancelOrder(ctx context.Context, in *orderv1.CancelOrderRequest, _ ...grpc.CallOption) (*orderv1.CancelOrderResponse, error) {
	out := new(orderv1.CancelOrderResponse)
	return result(out, c.Do(ctx, http.MethodPost, orderPath(in.GetOrderId())+":cancel", jsonBody(in, "order_id"), out))
}

func (c *restClient) ListOrderEvents(ctx context.Context, in *orderv1.ListOrderEventsRequest, _ ...grpc.CallOption) (*orderv1.ListOrderEventsResponse, error) {
	q := url.Values{}
	if in.GetPageSize() != 0 {
		q.Set("page_size", strconv.Itoa(int(in.GetPageSize())))
	}
	if in.GetPageToken() != "" {
		q.Set("page_token", in.GetPageToken())
	}
	out := new(orderv1.ListOrderEventsResponse)
	return result(out, c.Do(ctx, http.MethodGet, withQuery(orderPath(in.GetOrderId())+"/events", q), nil, out))
}

// result returns (nil, err) on failure, like the generated gRPC stubs.
func result[T proto.Message](out T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// transports are the two faces of one service, in the order tests run them.
func transports(s *service) []struct {
	name   string
	client orderv1.OrderServiceClient
} {
	return []struct {
		name   string
		client orderv1.OrderServiceClient
	}{{"grpc", s.GRPC}, {"rest", s.REST}}
}

// wantError is an expected failure: gRPC code, HTTP status (checked on the
// REST transport), ErrorInfo reason, and optionally a BadRequest field and
// ErrorInfo metadata.
type wantError struct {
	code     codes.Code
	http     int
	reason   string
	field    string
	metadata map[string]string
}

// checkError asserts err is the wanted failure and returns its status.
func checkError(t testing.TB, what string, err error, want wantError) *status.Status {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %s", what, want.code)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%s: error %v carries no status", what, err)
	}
	if st.Code() != want.code {
		t.Fatalf("%s: code %s (%v), want %s", what, st.Code(), err, want.code)
	}
	if re, isREST := err.(*restError); isREST && re.HTTPStatus != want.http {
		t.Errorf("%s: HTTP %d, want %d", what, re.HTTPStatus, want.http)
	}
	info := errorInfoOf(st)
	switch {
	case info == nil:
		t.Errorf("%s: no ErrorInfo in %v", what, st.Details())
	case info.GetReason() != want.reason || info.GetDomain() != "orders.acme.example":
		t.Errorf("%s: ErrorInfo %s/%s, want %s/orders.acme.example", what, info.GetDomain(), info.GetReason(), want.reason)
	default:
		for k, v := range want.metadata {
			if got := info.GetMetadata()[k]; got != v {
				t.Errorf("%s: ErrorInfo metadata %s = %q, want %q (all: %v)", what, k, got, v, info.GetMetadata())
			}
		}
	}
	if want.field != "" {
		fields := fieldViolationsOf(st)
		if !containsString(fields, want.field) {
			t.Errorf("%s: BadRequest names fields %q, want %q among them", what, fields, want.field)
		}
	}
	return st
}

func errorInfoOf(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func fieldViolationsOf(st *status.Status) []string {
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func preconditionOf(st *status.Status) *errdetails.PreconditionFailure {
	for _, d := range st.Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			return pf
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// requireOK fails the test when a call that must succeed did not.
func requireOK(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sameOrder fails when two answers about one order differ.
func sameOrder(t testing.TB, what string, got, want *orderv1.Order) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s: order differs\n got: %v\nwant: %v", what, compact(got), compact(want))
	}
}

// compact renders a message on one line for failure messages.
func compact(m proto.Message) string {
	return strings.TrimSpace(protojson.MarshalOptions{UseProtoNames: true}.Format(m))
}

package apitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// RESTClient calls the REST mapping of OrderService through the same
// interface as the gRPC client. Outgoing gRPC metadata in ctx becomes HTTP
// headers; grpc.Header call options receive the response headers. Errors
// are *HTTPError, which gRPC's status package understands.
type RESTClient struct {
	BaseURL string
	HTTP    *http.Client
}

var _ orderv1.OrderServiceClient = (*RESTClient)(nil)

// HTTPError is a REST error response: the HTTP status and the
// google.rpc.Status body.
type HTTPError struct {
	StatusCode int
	Body       []byte
	Status     *status.Status
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Status.Message())
}

// GRPCStatus lets status.FromError and status.Code read the body's status.
func (e *HTTPError) GRPCStatus() *status.Status { return e.Status }

var requestJSON = protojson.MarshalOptions{UseProtoNames: true}

// Do sends one request: body (nil for none) as JSON, decoding a 200 answer
// into out.
func (c *RESTClient) Do(ctx context.Context, method, path string, body, out proto.Message, opts ...grpc.CallOption) error {
	var payload io.Reader
	if body != nil {
		b, err := requestJSON.Marshal(body)
		if err != nil {
			return err
		}
		payload = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, payload)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	for k, vs := range md {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	deliverHeaders(resp.Header, opts)
	if resp.StatusCode != http.StatusOK {
		return httpError(resp.StatusCode, respBody)
	}
	return protojson.Unmarshal(respBody, out)
}

func deliverHeaders(h http.Header, opts []grpc.CallOption) {
	for _, o := range opts {
		if ho, ok := o.(grpc.HeaderCallOption); ok {
			md := metadata.MD{}
			for k, vs := range h {
				md.Append(strings.ToLower(k), vs...)
			}
			*ho.HeaderAddr = md
		}
	}
}

func httpError(code int, body []byte) error {
	var st spb.Status
	if err := protojson.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("HTTP %d with a body that is not a google.rpc.Status (%v): %s", code, err, body)
	}
	return &HTTPError{StatusCode: code, Body: body, Status: status.FromProto(&st)}
}

// call sends a request and returns a fresh response, or nil and the error.
func call[R any, P interface {
	*R
	proto.Message
}](ctx context.Context, c *RESTClient, method, path string, body proto.Message, opts []grpc.CallOption) (P, error) {
	out := P(new(R))
	if err := c.Do(ctx, method, path, body, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

func orderPath(id string, suffix string) string {
	return "/v1/orders/" + url.PathEscape(id) + suffix
}

// CreateOrder implements orderv1.OrderServiceClient.
func (c *RESTClient) CreateOrder(ctx context.Context, in *orderv1.CreateOrderRequest, opts ...grpc.CallOption) (*orderv1.CreateOrderResponse, error) {
	return call[orderv1.CreateOrderResponse](ctx, c, http.MethodPost, "/v1/orders", in, opts)
}

// GetOrder implements orderv1.OrderServiceClient.
func (c *RESTClient) GetOrder(ctx context.Context, in *orderv1.GetOrderRequest, opts ...grpc.CallOption) (*orderv1.GetOrderResponse, error) {
	q := url.Values{}
	setQuery(q, "as_of_version", itoa(in.GetAsOfVersion()))
	if in.GetAsOfTime() != nil {
		q.Set("as_of_time", in.GetAsOfTime().AsTime().Format(time.RFC3339Nano))
	}
	return call[orderv1.GetOrderResponse](ctx, c, http.MethodGet, orderPath(in.GetOrderId(), "")+"?"+q.Encode(), nil, opts)
}

// ListOrders implements orderv1.OrderServiceClient.
func (c *RESTClient) ListOrders(ctx context.Context, in *orderv1.ListOrdersRequest, opts ...grpc.CallOption) (*orderv1.ListOrdersResponse, error) {
	q := url.Values{}
	setQuery(q, "user_id", in.GetUserId())
	if in.GetStatus() != orderv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
		q.Set("status", in.GetStatus().String())
	}
	setQuery(q, "page_size", itoa(int64(in.GetPageSize())))
	setQuery(q, "page_token", in.GetPageToken())
	return call[orderv1.ListOrdersResponse](ctx, c, http.MethodGet, "/v1/orders?"+q.Encode(), nil, opts)
}

// AddOrderItem implements orderv1.OrderServiceClient.
func (c *RESTClient) AddOrderItem(ctx context.Context, in *orderv1.AddOrderItemRequest, opts ...grpc.CallOption) (*orderv1.AddOrderItemResponse, error) {
	return call[orderv1.AddOrderItemResponse](ctx, c, http.MethodPost, orderPath(in.GetOrderId(), "/items"), in, opts)
}

// RemoveOrderItem implements orderv1.OrderServiceClient.
func (c *RESTClient) RemoveOrderItem(ctx context.Context, in *orderv1.RemoveOrderItemRequest, opts ...grpc.CallOption) (*orderv1.RemoveOrderItemResponse, error) {
	q := url.Values{}
	setQuery(q, "expected_version", itoa(in.GetExpectedVersion()))
	setQuery(q, "request_id", in.GetRequestId())
	path := orderPath(in.GetOrderId(), "/items/"+url.PathEscape(in.GetProductId())) + "?" + q.Encode()
	return call[orderv1.RemoveOrderItemResponse](ctx, c, http.MethodDelete, path, nil, opts)
}

// ChangeOrderItemQuantity implements orderv1.OrderServiceClient.
func (c *RESTClient) ChangeOrderItemQuantity(ctx context.Context, in *orderv1.ChangeOrderItemQuantityRequest, opts ...grpc.CallOption) (*orderv1.ChangeOrderItemQuantityResponse, error) {
	path := orderPath(in.GetOrderId(), "/items/"+url.PathEscape(in.GetProductId())+":changeQuantity")
	return call[orderv1.ChangeOrderItemQuantityResponse](ctx, c, http.MethodPost, path, in, opts)
}

// ChangeShippingAddress implements orderv1.OrderServiceClient.
func (c *RESTClient) ChangeShippingAddress(ctx context.Context, in *orderv1.ChangeShippingAddressRequest, opts ...grpc.CallOption) (*orderv1.ChangeShippingAddressResponse, error) {
	return call[orderv1.ChangeShippingAddressResponse](ctx, c, http.MethodPost, orderPath(in.GetOrderId(), ":changeShippingAddress"), in, opts)
}

// ConfirmOrder implements orderv1.OrderServiceClient.
func (c *RESTClient) ConfirmOrder(ctx context.Context, in *orderv1.ConfirmOrderRequest, opts ...grpc.CallOption) (*orderv1.ConfirmOrderResponse, error) {
	return call[orderv1.ConfirmOrderResponse](ctx, c, http.MethodPost, orderPath(in.GetOrderId(), ":confirm"), in, opts)
}

// PayOrder implements orderv1.OrderServiceClient.
func (c *RESTClient) PayOrder(ctx context.Context, in *orderv1.PayOrderRequest, opts ...grpc.CallOption) (*orderv1.PayOrderResponse, error) {
	return call[orderv1.PayOrderResponse](ctx, c, http.MethodPost, orderPath(in.GetOrderId(), ":pay"), in, opts)
}

// ShipOrder implements orderv1.OrderServiceClient.
func (c *RESTClient) ShipOrder(ctx context.Context, in *orderv1.ShipOrderRequest, opts ...grpc.CallOption) (*orderv1.ShipOrderResponse, error) {
	return call[orderv1.ShipOrderResponse](ctx, c, http.MethodPost, orderPath(in.GetOrderId(), ":ship"), in, opts)
}

// DeliverOrder implements orderv1.OrderServiceClient.
func (c *RESTClient) DeliverOrder(ctx context.Context, in *orderv1.DeliverOrderRequest, opts ...grpc.CallOption) (*orderv1.DeliverOrderResponse, error) {
	return call[orderv1.DeliverOrderResponse](ctx, c, http.MethodPost, orderPath(in.GetOrderId(), ":deliver"), in, opts)
}

// CancelOrder implements orderv1.OrderServiceClient.
func (c *RESTClient) CancelOrder(ctx context.Context, in *orderv1.CancelOrderRequest, opts ...grpc.CallOption) (*orderv1.CancelOrderResponse, error) {
	return call[orderv1.CancelOrderResponse](ctx, c, http.MethodPost, orderPath(in.GetOrderId(), ":cancel"), in, opts)
}

// ListOrderEvents implements orderv1.OrderServiceClient.
func (c *RESTClient) ListOrderEvents(ctx context.Context, in *orderv1.ListOrderEventsRequest, opts ...grpc.CallOption) (*orderv1.ListOrderEventsResponse, error) {
	q := url.Values{}
	setQuery(q, "page_size", itoa(int64(in.GetPageSize())))
	setQuery(q, "page_token", in.GetPageToken())
	setQuery(q, "from_version", itoa(in.GetFromVersion()))
	return call[orderv1.ListOrderEventsResponse](ctx, c, http.MethodGet, orderPath(in.GetOrderId(), "/events")+"?"+q.Encode(), nil, opts)
}

func setQuery(q url.Values, key, value string) {
	if value != "" && value != "0" {
		q.Set(key, value)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

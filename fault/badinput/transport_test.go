package badinput

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// answer is what came back, over either transport.
type answer struct {
	transport  string
	code       codes.Code
	httpStatus int // REST only
	message    string
	fields     []string // BadRequest field violations
	reasons    []string // ErrorInfo reasons
	text       string   // everything a client sees: message, details, body
	body       []byte   // REST body
	reply      proto.Message
}

func (a answer) String() string {
	if a.transport == "rest" {
		return fmt.Sprintf("HTTP %d %s %q fields=%v reasons=%v", a.httpStatus, a.code, a.message, a.fields, a.reasons)
	}
	return fmt.Sprintf("%s %q fields=%v reasons=%v", a.code, a.message, a.fields, a.reasons)
}

func fromStatus(a *answer, st *status.Status) {
	a.code, a.message = st.Code(), st.Message()
	var text strings.Builder
	text.WriteString(st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				a.fields = append(a.fields, v.GetField())
				text.WriteString(" " + v.GetField() + ": " + v.GetDescription())
			}
		case *errdetails.ErrorInfo:
			a.reasons = append(a.reasons, d.GetReason())
			for k, v := range d.GetMetadata() {
				text.WriteString(" " + k + "=" + v)
			}
		case proto.Message:
			if b, err := protojson.Marshal(d); err == nil {
				text.Write(b)
			}
		}
	}
	a.text = text.String()
}

// method is the full gRPC method of a request message.
func method(req proto.Message) string {
	return "/order.v1.OrderService/" + rpcName(req)
}

func rpcName(req proto.Message) string {
	return strings.TrimSuffix(string(req.ProtoReflect().Descriptor().Name()), "Request")
}

// callGRPC sends a request message with the generic Invoke.
func (s *service) callGRPC(ctx context.Context, req proto.Message) answer {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("order.v1." + rpcName(req) + "Response"))
	if err != nil {
		s.t.Fatalf("response type of %s: %v", rpcName(req), err)
	}
	reply := mt.New().Interface()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err = s.conn.Invoke(ctx, method(req), req, reply)
	a := answer{transport: "grpc"}
	fromStatus(&a, status.Convert(err))
	if err == nil {
		a.reply = reply
	}
	return a
}

// rawCodec sends bytes exactly as given: malformed protobuf a real
// client's marshaller would refuse to produce (invalid UTF-8, truncation).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func (s *service) callGRPCRaw(ctx context.Context, rpc string, payload []byte) answer {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var reply []byte
	err := s.conn.Invoke(ctx, "/order.v1.OrderService/"+rpc, payload, &reply, grpc.ForceCodec(rawCodec{}))
	a := answer{transport: "grpc"}
	fromStatus(&a, status.Convert(err))
	return a
}

// restReq is one HTTP request.
type restReq struct {
	method, path string
	contentType  string // default application/json when there is a body
	body         []byte
}

func (s *service) callREST(ctx context.Context, r restReq) answer {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, "http://"+s.httpAddr+r.path, body)
	if err != nil {
		s.t.Fatalf("REST request %s %s: %v", r.method, r.path, err)
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	a := answer{transport: "rest"}
	resp, err := s.http.Do(req)
	if err != nil {
		a.code, a.message, a.text = codes.Unavailable, err.Error(), err.Error()
		return a
	}
	defer resp.Body.Close()
	a.body, _ = io.ReadAll(resp.Body)
	a.httpStatus = resp.StatusCode
	if resp.StatusCode == http.StatusOK {
		a.code = codes.OK
		a.text = string(a.body)
		return a
	}
	var st spb.Status
	if err := protojson.Unmarshal(a.body, &st); err != nil {
		a.code, a.message = codes.Unknown, "non-Status error body: "+string(a.body)
		a.text = string(a.body)
		return a
	}
	fromStatus(&a, status.FromProto(&st))
	a.text += " " + string(a.body)
	return a
}

var restJSON = protojson.MarshalOptions{UseProtoNames: true}

// restOf maps a request message onto its REST route (proto/order/v1:
// google.api.http): path parameters into the path, the rest into the body
// (POST) or the query (GET, DELETE).
func restOf(msg proto.Message) (restReq, error) {
	m := proto.Clone(msg)
	esc := url.PathEscape
	post := func(path string) (restReq, error) {
		b, err := restJSON.Marshal(m)
		return restReq{method: http.MethodPost, path: path, body: b}, err
	}
	switch r := m.(type) {
	case *orderv1.CreateOrderRequest:
		return post("/v1/orders")
	case *orderv1.GetOrderRequest:
		return restReq{method: http.MethodGet, path: "/v1/orders/" + esc(r.GetOrderId())}, nil
	case *orderv1.ListOrdersRequest:
		q := url.Values{}
		q.Set("user_id", r.GetUserId())
		if r.GetStatus() != 0 {
			if name := r.GetStatus().String(); !strings.HasPrefix(name, "ORDER_STATUS_") {
				q.Set("status", strconv.Itoa(int(r.GetStatus())))
			} else {
				q.Set("status", name)
			}
		}
		if r.GetPageSize() != 0 {
			q.Set("page_size", strconv.Itoa(int(r.GetPageSize())))
		}
		if r.GetPageToken() != "" {
			q.Set("page_token", r.GetPageToken())
		}
		return restReq{method: http.MethodGet, path: "/v1/orders?" + q.Encode()}, nil
	case *orderv1.ListOrderEventsRequest:
		q := url.Values{}
		if r.GetPageSize() != 0 {
			q.Set("page_size", strconv.Itoa(int(r.GetPageSize())))
		}
		if r.GetPageToken() != "" {
			q.Set("page_token", r.GetPageToken())
		}
		return restReq{method: http.MethodGet, path: "/v1/orders/" + esc(r.GetOrderId()) + "/events?" + q.Encode()}, nil
	case *orderv1.AddOrderItemRequest:
		id := r.GetOrderId()
		r.OrderId = ""
		return post("/v1/orders/" + esc(id) + "/items")
	case *orderv1.RemoveOrderItemRequest:
		q := url.Values{}
		if r.GetExpectedVersion() != 0 {
			q.Set("expected_version", strconv.FormatInt(r.GetExpectedVersion(), 10))
		}
		if r.GetRequestId() != "" {
			q.Set("request_id", r.GetRequestId())
		}
		return restReq{method: http.MethodDelete, path: "/v1/orders/" + esc(r.GetOrderId()) + "/items/" + esc(r.GetProductId()) + "?" + q.Encode()}, nil
	case *orderv1.ChangeOrderItemQuantityRequest:
		id, product := r.GetOrderId(), r.GetProductId()
		r.OrderId, r.ProductId = "", ""
		return post("/v1/orders/" + esc(id) + "/items/" + esc(product) + ":changeQuantity")
	case *orderv1.ChangeShippingAddressRequest:
		id := r.GetOrderId()
		r.OrderId = ""
		return post("/v1/orders/" + esc(id) + ":changeShippingAddress")
	case *orderv1.ConfirmOrderRequest:
		id := r.GetOrderId()
		r.OrderId = ""
		return post("/v1/orders/" + esc(id) + ":confirm")
	case *orderv1.PayOrderRequest:
		id := r.GetOrderId()
		r.OrderId = ""
		return post("/v1/orders/" + esc(id) + ":pay")
	case *orderv1.ShipOrderRequest:
		id := r.GetOrderId()
		r.OrderId = ""
		return post("/v1/orders/" + esc(id) + ":ship")
	case *orderv1.DeliverOrderRequest:
		id := r.GetOrderId()
		r.OrderId = ""
		return post("/v1/orders/" + esc(id) + ":deliver")
	case *orderv1.CancelOrderRequest:
		id := r.GetOrderId()
		r.OrderId = ""
		return post("/v1/orders/" + esc(id) + ":cancel")
	}
	return restReq{}, fmt.Errorf("no REST mapping for %T", msg)
}

package grpcapi

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// receive stands for grpc's receiving: it hands data to the codec.
func receive(data []byte) func(any) error {
	return func(v any) error { return newCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, v) }
}

// withItems encodes a CreateOrderRequest whose items have these product ids.
func withItems(productIDs ...string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "u1")
	for _, id := range productIDs {
		var item []byte
		item = protowire.AppendTag(item, 1, protowire.BytesType)
		item = protowire.AppendString(item, id)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, item)
	}
	return b
}

func TestDecodeRequest(t *testing.T) {
	valid := withItems("a", "b")
	tests := []struct {
		name      string
		data      []byte
		max       int
		code      codes.Code
		reason    string
		field     string
		wantItems int
	}{
		{name: "valid", data: valid, max: 1 << 10, wantItems: 2},
		{name: "invalid UTF-8 in the second item", data: withItems("a", "b\xff"), max: 1 << 10,
			code: codes.InvalidArgument, reason: ReasonInvalidArgument, field: "items[1].product_id"},
		{name: "truncated", data: append(valid, 0x1a, 0x40), max: 1 << 10,
			code: codes.InvalidArgument, reason: ReasonInvalidArgument, field: "body"},
		{name: "above the limit", data: valid, max: len(valid) - 1,
			code: codes.ResourceExhausted, reason: ReasonRequestTooLarge},
		{name: "at the limit", data: valid, max: len(valid), wantItems: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req orderv1.CreateOrderRequest
			err := decodeRequest(receive(tt.data), &req, tt.max)
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("decodeRequest = %v, want code %s", err, tt.code)
			}
			if tt.code == codes.OK {
				if len(req.GetItems()) != tt.wantItems || req.GetUserId() != "u1" {
					t.Errorf("decoded %v", &req)
				}
				return
			}
			var reason string
			var fields []string
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					reason = d.GetReason()
				case *errdetails.BadRequest:
					for _, v := range d.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if reason != tt.reason {
				t.Errorf("reason %q, want %q (%v)", reason, tt.reason, err)
			}
			if tt.field != "" && (len(fields) != 1 || fields[0] != tt.field) {
				t.Errorf("BadRequest names %v, want %s", fields, tt.field)
			}
		})
	}
}

// TestCodecDecodesOtherMessages: what is not a rawRequest (health checks,
// reflection, the client side) goes through the standard proto codec.
func TestCodecDecodesOtherMessages(t *testing.T) {
	data, err := proto.Marshal(&orderv1.GetOrderRequest{OrderId: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var got orderv1.GetOrderRequest
	if err := receive(data)(&got); err != nil || got.GetOrderId() != "x" {
		t.Fatalf("Unmarshal = %v, %v", &got, err)
	}
	if newCodec().Name() != "proto" {
		t.Errorf("Name = %q", newCodec().Name())
	}
}

func TestTransportRecvLimit(t *testing.T) {
	if got := transportRecvLimit(1 << 20); got != 4<<20 {
		t.Errorf("transportRecvLimit(1 MiB) = %d", got)
	}
	if got := transportRecvLimit(1 << 30); got <= 1<<30 {
		t.Errorf("transportRecvLimit(1 GiB) = %d, overflowed", got)
	}
}

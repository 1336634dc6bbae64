package grpcapi

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ReasonRequestTooLarge is the ErrorInfo reason of a request above the
// size limit, over gRPC and REST alike.
const ReasonRequestTooLarge = "REQUEST_TOO_LARGE"

// grpc-go turns any codec failure into INTERNAL without details, and rejects
// a message above its receive limit with a bare RESOURCE_EXHAUSTED; either
// status is written to the client as soon as receiving fails, before the
// handler or any interceptor could change it. So the server's codec hands
// requests over undecoded (rawRequest), the transport's limit is a multiple
// of the configured one (transportRecvLimit), and decodingService wraps every
// method of a service so that the request is measured and decoded there,
// where a failure can be answered as what it is: the client's mistake, with
// the details every other refusal has. Only a message above the transport's
// limit still gets grpc-go's bare RESOURCE_EXHAUSTED.

// transportSlack is how many times the configured request size the
// transport accepts, so that decodeRequest sees (and explains) most
// oversized requests; it bounds the memory one request can take.
const transportSlack = 4

// transportRecvLimit is the receive limit to give the transport for a
// configured limit of max bytes.
func transportRecvLimit(max int) int {
	if max > math.MaxInt32/transportSlack {
		return math.MaxInt32
	}
	return max * transportSlack
}

// codec is grpc's standard proto codec, except that it fills a rawRequest
// with the message's bytes instead of decoding them.
type codec struct{ encoding.CodecV2 }

func newCodec() codec { return codec{encoding.GetCodecV2(grpcproto.Name)} }

// Unmarshal implements encoding.CodecV2.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if raw, ok := v.(*rawRequest); ok {
		raw.data = data.Materialize() // grpc frees data once this returns
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// rawRequest is a request message's bytes, as received.
type rawRequest struct{ data []byte }

// decodingService returns a copy of desc whose unary methods decode their
// request with decodeRequest; maxRecvMsgSize is the server's size limit.
func decodingService(desc *grpc.ServiceDesc, maxRecvMsgSize int) *grpc.ServiceDesc {
	out := *desc
	out.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		handler := m.Handler
		out.Methods[i] = grpc.MethodDesc{MethodName: m.MethodName,
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				return handler(srv, ctx, func(req any) error { return decodeRequest(dec, req, maxRecvMsgSize) }, interceptor)
			}}
	}
	return &out
}

// decodeRequest receives the request through dec, checks its size and
// decodes it into req.
func decodeRequest(dec func(any) error, req any, maxRecvMsgSize int) error {
	var raw rawRequest
	if err := dec(&raw); err != nil {
		return err // already written to the client by grpc
	}
	if len(raw.data) > maxRecvMsgSize {
		return requestTooLarge(maxRecvMsgSize).Err()
	}
	msg, ok := req.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "grpc server: request type %T is not a protobuf message", req)
	}
	if err := proto.Unmarshal(raw.data, msg); err != nil {
		return undecodable(msg.ProtoReflect().Descriptor(), raw.data).Err()
	}
	return nil
}

// requestTooLarge refuses a request above max bytes.
func requestTooLarge(max int) *status.Status {
	return newStatus(codes.ResourceExhausted, "request exceeds "+strconv.Itoa(max)+" bytes",
		errorInfo(ReasonRequestTooLarge, map[string]string{"max_bytes": strconv.Itoa(max)}))
}

// undecodable refuses bytes that are not a message of type md: it names the
// string field with invalid UTF-8 when that is the fault, else the body.
func undecodable(md protoreflect.MessageDescriptor, data []byte) *status.Status {
	field, description := "body", fmt.Sprintf("is not a valid %s message", md.FullName())
	if path, ok := invalidUTF8Field(md, data); ok {
		field, description = path, "is not valid UTF-8"
	}
	return newStatus(codes.InvalidArgument, "invalid request: "+field+": "+description,
		errorInfo(ReasonInvalidArgument, nil), badRequest(fieldViolation(field, description)))
}

// invalidUTF8Field finds the first string field of data (a message of type
// md) that is not valid UTF-8, as a path such as items[0].product_id.
func invalidUTF8Field(md protoreflect.MessageDescriptor, data []byte) (string, bool) {
	seen := map[protowire.Number]int{} // elements of repeated fields so far
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return "", false
		}
		data = data[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType || fd.IsMap() {
			if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
				return "", false
			}
			data = data[n:]
			continue
		}
		value, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return "", false
		}
		data = data[n:]
		name := string(fd.Name())
		if fd.IsList() {
			name += "[" + strconv.Itoa(seen[num]) + "]"
			seen[num]++
		}
		switch fd.Kind() {
		case protoreflect.StringKind:
			if !utf8.Valid(value) {
				return name, true
			}
		case protoreflect.MessageKind:
			if sub, ok := invalidUTF8Field(fd.Message(), value); ok {
				return name + "." + sub, true
			}
		}
	}
	return "", false
}

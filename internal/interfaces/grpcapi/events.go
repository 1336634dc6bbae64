package grpcapi

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/protomap"
)

// storedPayload reads payloads as written by any version of the service: a
// newer instance may already store fields this one does not know, and
// history must stay readable during a rolling deploy.
var storedPayload = protojson.UnmarshalOptions{DiscardUnknown: true}

// orderEvent returns the API form of a stored event. A payload that does not
// decode means a corrupt log, reported as an internal error.
func orderEvent(r application.EventRecord) (*orderv1.OrderEvent, error) {
	payload, err := protomap.NewPayload(r.Type)
	if err != nil {
		return nil, fmt.Errorf("event %s of order %s: %w", r.EventID, r.OrderID, err)
	}
	if err := storedPayload.Unmarshal(r.Data, payload); err != nil {
		return nil, fmt.Errorf("decode %s event %s of order %s: %w", r.Type, r.EventID, r.OrderID, err)
	}
	ev := &orderv1.OrderEvent{
		EventId: r.EventID.String(), OrderId: r.OrderID.String(), Version: int64(r.Version),
		EventType: r.Type, OccurTime: timestamppb.New(r.OccurredAt), ActorId: r.Metadata.ActorID,
	}
	if err := setPayload(ev, payload); err != nil {
		return nil, fmt.Errorf("event %s of order %s: %w", r.EventID, r.OrderID, err)
	}
	return ev, nil
}

// setPayload puts the payload into the oneof member of its message type.
// Matching by type through reflection keeps this in step with the proto:
// a new event needs a oneof member and a protomap case, nothing here.
func setPayload(ev *orderv1.OrderEvent, payload proto.Message) error {
	m := ev.ProtoReflect()
	want := payload.ProtoReflect().Descriptor().FullName()
	members := m.Descriptor().Oneofs().ByName("payload").Fields()
	for i := 0; i < members.Len(); i++ {
		if f := members.Get(i); f.Message() != nil && f.Message().FullName() == want {
			m.Set(f, protoreflect.ValueOfMessage(payload.ProtoReflect()))
			return nil
		}
	}
	return fmt.Errorf("no OrderEvent payload member for %s", want)
}

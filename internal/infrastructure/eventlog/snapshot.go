package eventlog

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// CurrentSnapshotVersion is the schema of the snapshot payloads this code
// writes, and the only one it reads. Bump it whenever what a payload means
// changes (order.State gains, loses or reinterprets a field): stored
// snapshots of any other version are then ignored, their orders replay their
// whole history, and the next snapshot write replaces them. No migration of
// old snapshots is ever needed.
const CurrentSnapshotVersion = 2

// StoredSnapshot is one order_snapshots row.
type StoredSnapshot struct {
	OrderID       order.ID
	Version       int
	SchemaVersion int
	// Data is the protobuf JSON of the order.v1.Order resource of the state.
	Data      []byte
	CreatedAt time.Time
}

var snapshotJSON = protojson.MarshalOptions{UseProtoNames: true}

// EncodeSnapshot turns a snapshot into the row that stores it.
func EncodeSnapshot(s application.Snapshot) (StoredSnapshot, error) {
	data, err := snapshotJSON.Marshal(protomap.Order(s.State))
	if err != nil {
		return StoredSnapshot{}, fmt.Errorf("encode snapshot of order %s: %w", s.State.ID, err)
	}
	return StoredSnapshot{
		OrderID: s.State.ID, Version: s.State.Version, SchemaVersion: CurrentSnapshotVersion,
		Data: data, CreatedAt: s.CreatedAt,
	}, nil
}

// DecodeSnapshot turns a stored row back into a snapshot. A row of another
// schema version or one that does not decode to a valid state of its order
// at its version is an error wrapping *application.SnapshotUnusableError.
func DecodeSnapshot(r StoredSnapshot) (application.Snapshot, error) {
	if r.SchemaVersion != CurrentSnapshotVersion {
		return application.Snapshot{}, &application.SnapshotUnusableError{
			OrderID: r.OrderID, Reason: application.SnapshotReasonSchema,
			Err: fmt.Errorf("schema version %d, this code reads %d", r.SchemaVersion, CurrentSnapshotVersion),
		}
	}
	state, err := decodeState(r)
	if err != nil {
		return application.Snapshot{}, &application.SnapshotUnusableError{
			OrderID: r.OrderID, Reason: application.SnapshotReasonCorrupt, Err: err,
		}
	}
	return application.Snapshot{State: state, CreatedAt: r.CreatedAt}, nil
}

func decodeState(r StoredSnapshot) (order.State, error) {
	var m orderv1.Order
	if err := protojson.Unmarshal(r.Data, &m); err != nil {
		return order.State{}, fmt.Errorf("payload: %w", err)
	}
	d := &stateDecoder{}
	s := order.State{
		ID: d.id(m.GetId()), Version: int(m.GetVersion()),
		CreatedAt: d.time(m.GetCreateTime()), UpdatedAt: d.time(m.GetUpdateTime()),
	}
	s.UserID = d.user(m.GetUserId())
	s.Currency = d.currency(m.GetCurrency())
	s.ShippingAddress = d.address(m.GetPostalAddress(), m.GetShippingAddress())
	s.Status = d.status(m.GetStatus())
	s.Total = d.money("total_amount", m.GetTotalAmount(), s.Currency)
	s.Items = d.items(m.GetItems(), s.Currency)
	s.Payment = d.payment(m.GetPayment(), s.Currency)
	s.Shipment = d.shipment(m.GetShipment())
	s.Cancellation = d.cancellation(m.GetCancellation(), s.Currency)
	if d.err != nil {
		return order.State{}, d.err
	}
	return s, checkState(s, r)
}

// checkState holds a decoded state to the row it came from and to the
// invariant a bit flip is most likely to break.
func checkState(s order.State, r StoredSnapshot) error {
	var sum int64
	for _, it := range s.Items {
		sum += it.Subtotal().Minor()
	}
	switch {
	case s.ID != r.OrderID:
		return fmt.Errorf("payload of order %s", s.ID)
	case s.Version != r.Version:
		return fmt.Errorf("payload at version %d, row at %d", s.Version, r.Version)
	case len(s.Items) == 0:
		return errors.New("no items")
	case s.Total.Minor() != sum:
		return fmt.Errorf("total %s, but the items add up to %d minor units", s.Total, sum)
	}
	return nil
}

// stateDecoder keeps the first error of a decode, so the mapping reads as a
// list of fields.
type stateDecoder struct{ err error }

func (d *stateDecoder) fail(field string, err error) {
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("%s: %w", field, err)
	}
}

func (d *stateDecoder) id(s string) order.ID {
	id, err := order.ParseID(s)
	d.fail("id", err)
	return id
}

func (d *stateDecoder) user(s string) order.UserID {
	u, err := order.NewUserID(s)
	d.fail("user_id", err)
	return u
}

func (d *stateDecoder) time(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	d.fail("timestamp", t.CheckValid())
	return t.AsTime()
}

func (d *stateDecoder) currency(s string) order.Currency {
	c, err := order.ParseCurrency(s)
	d.fail("currency", err)
	return c
}

func (d *stateDecoder) address(postal *orderv1.PostalAddress, text string) order.PostalAddress {
	a, err := protomap.AddressOf(postal, text)
	d.fail("shipping_address", err)
	return a
}

func (d *stateDecoder) status(s orderv1.OrderStatus) order.Status {
	st, err := protomap.StatusFromProto(s)
	d.fail("status", err)
	return st
}

func (d *stateDecoder) money(field, s string, c order.Currency) order.Money {
	m, err := order.ParseMoney(field, s, c)
	d.fail(field, err)
	return m
}

func (d *stateDecoder) items(ms []*orderv1.LineItem, c order.Currency) []order.LineItem {
	items := make([]order.LineItem, len(ms))
	for i, m := range ms {
		var err error
		items[i], err = order.NewLineItem(d.id(m.GetId()), m.GetProductId(), m.GetProductName(),
			int64(m.GetQuantity()), d.money("unit_price", m.GetUnitPrice(), c))
		d.fail("items", err)
	}
	return items
}

func (d *stateDecoder) payment(m *orderv1.Payment, c order.Currency) *order.Payment {
	if m == nil {
		return nil
	}
	return &order.Payment{Amount: d.money("payment.amount", m.GetAmount(), c), Reference: m.GetPaymentReference(), PaidAt: d.time(m.GetPayTime())}
}

func (d *stateDecoder) shipment(m *orderv1.Shipment) *order.Shipment {
	if m == nil {
		return nil
	}
	return &order.Shipment{
		Carrier: m.GetCarrier(), TrackingNumber: m.GetTrackingNumber(),
		ShippedAt: d.time(m.GetShipTime()), DeliveredAt: d.time(m.GetDeliverTime()),
	}
}

func (d *stateDecoder) cancellation(m *orderv1.Cancellation, c order.Currency) *order.Cancellation {
	if m == nil {
		return nil
	}
	out := &order.Cancellation{Reason: m.GetReason(), RefundDue: m.GetRefundDue(), CancelledAt: d.time(m.GetCancelTime())}
	if out.RefundDue {
		out.RefundAmount = d.money("cancellation.refund_amount", m.GetRefundAmount(), c)
	}
	return out
}

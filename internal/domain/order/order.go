package order

import (
	"fmt"
	"slices"
	"time"
)

// State is an order's complete state as plain values: what the read model
// stores and what queries return.
type State struct {
	ID              ID
	UserID          UserID
	Currency        Currency
	Items           []LineItem
	ShippingAddress PostalAddress
	Status          Status
	Total           Money
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Version         int
	Payment         *Payment      // set once paid
	Shipment        *Shipment     // set once shipped
	Cancellation    *Cancellation // set once cancelled
}

// Payment is what OrderPaid recorded.
type Payment struct {
	Amount    Money
	Reference string
	PaidAt    time.Time
}

// Shipment is what OrderShipped (and OrderDelivered) recorded.
type Shipment struct {
	Carrier        string
	TrackingNumber string
	ShippedAt      time.Time
	DeliveredAt    time.Time // zero until delivered
}

// Cancellation is what OrderCancelled recorded.
type Cancellation struct {
	Reason       string
	RefundDue    bool
	RefundAmount Money
	CancelledAt  time.Time
}

// Clone returns a deep copy, so callers can keep a state while the order
// moves on.
func (s State) Clone() State {
	s.Items = slices.Clone(s.Items)
	if s.Payment != nil {
		p := *s.Payment
		s.Payment = &p
	}
	if s.Shipment != nil {
		sh := *s.Shipment
		s.Shipment = &sh
	}
	if s.Cancellation != nil {
		c := *s.Cancellation
		s.Cancellation = &c
	}
	return s
}

// Order is the aggregate root. Its zero value is not usable: start with Create
// or Rehydrate.
type Order struct {
	state   State
	pending []Event
}

// Create starts a new order. It checks every invariant of the initial state
// and raises OrderCreated.
func Create(id ID, user UserID, currency Currency, address PostalAddress, items []LineItem, now time.Time) (*Order, error) {
	if id.IsZero() {
		return nil, invalid("order_id", "must not be the nil UUID")
	}
	if _, err := NewUserID(string(user)); err != nil {
		return nil, err
	}
	if _, err := ParseCurrency(string(currency)); err != nil {
		return nil, err
	}
	if err := requireAddress(address); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, invalid("items", "an order needs at least one item")
	}
	if len(items) > MaxItems {
		return nil, invalid("items", "at most %d items, got %d", MaxItems, len(items))
	}
	products := make(map[string]bool, len(items))
	lines := make(map[ID]bool, len(items))
	for i, it := range items {
		if products[it.productID] {
			return nil, invalid(fmt.Sprintf("items[%d].product_id", i), "product %q appears twice", truncate(it.productID, 40))
		}
		if lines[it.id] {
			return nil, invalid(fmt.Sprintf("items[%d].id", i), "line id %s appears twice", it.id)
		}
		products[it.productID], lines[it.id] = true, true
		if it.unitPrice.currency != currency {
			return nil, invalid(fmt.Sprintf("items[%d].unit_price", i), "currency %s differs from the order's %s", it.unitPrice.currency, currency)
		}
	}
	total, err := sum(currency, items)
	if err != nil {
		return nil, err
	}
	o := &Order{}
	err = o.raise(OrderCreated{
		EventHeader:     EventHeader{OrderID: id, Version: 1, OccurredAt: now},
		UserID:          user,
		Currency:        currency,
		ShippingAddress: address,
		Items:           slices.Clone(items),
		Total:           total,
	})
	return o, err
}

// Rehydrate rebuilds an order from its history, which must start with
// OrderCreated and have contiguous versions.
func Rehydrate(history []Event) (*Order, error) {
	if len(history) == 0 {
		return nil, ErrNotFound
	}
	o := &Order{}
	for _, e := range history {
		if err := o.apply(e); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// State returns a copy of the current state.
func (o *Order) State() State { return o.state.Clone() }

// ID returns the order's id.
func (o *Order) ID() ID { return o.state.ID }

// UserID returns the owner.
func (o *Order) UserID() UserID { return o.state.UserID }

// Currency returns the currency of every amount in the order.
func (o *Order) Currency() Currency { return o.state.Currency }

// Status returns the lifecycle status.
func (o *Order) Status() Status { return o.state.Status }

// Version returns the version of the last event applied.
func (o *Order) Version() int { return o.state.Version }

// PendingEvents returns the events raised since the order was created or
// rehydrated, in order: what the caller must append to the store.
func (o *Order) PendingEvents() []Event { return slices.Clone(o.pending) }

// AddItem adds a product line while the order is pending.
func (o *Order) AddItem(item LineItem, now time.Time) error {
	if err := o.may(ActionAddItem); err != nil {
		return err
	}
	if len(o.state.Items) >= MaxItems {
		return invalid("items", "an order holds at most %d items", MaxItems)
	}
	if _, found := o.line(item.productID); found {
		return broken(RuleProductAlreadyInOrder, "product %q is already in the order; change its quantity instead", truncate(item.productID, 40))
	}
	if slices.ContainsFunc(o.state.Items, func(l LineItem) bool { return l.id == item.id }) {
		return invalid("item.id", "line id %s is already in the order", item.id)
	}
	if item.unitPrice.currency != o.state.Currency {
		return invalid("item.unit_price", "currency %s differs from the order's %s", item.unitPrice.currency, o.state.Currency)
	}
	total, err := o.state.Total.Add(item.subtotal)
	if err != nil {
		return invalid("item", "the order total would exceed %s", formatMinor(MaxAmount))
	}
	return o.raise(OrderItemAdded{EventHeader: o.next(now), Item: item, Total: total})
}

// RemoveItem removes a product line while the order is pending. The last line
// cannot be removed: cancel the order instead.
func (o *Order) RemoveItem(productID string, now time.Time) error {
	if err := o.may(ActionRemoveItem); err != nil {
		return err
	}
	i, found := o.line(productID)
	if !found {
		return broken(RuleProductNotInOrder, "product %q is not in the order", truncate(productID, 40))
	}
	if len(o.state.Items) == 1 {
		return broken(RuleLastItem, "the last item cannot be removed; cancel the order instead")
	}
	item := o.state.Items[i]
	total, err := o.state.Total.Sub(item.subtotal)
	if err != nil {
		return fmt.Errorf("remove item: %w", err)
	}
	return o.raise(OrderItemRemoved{EventHeader: o.next(now), ItemID: item.id, ProductID: item.productID, Total: total})
}

// ChangeItemQuantity sets a line's quantity while the order is pending.
// Setting the quantity it already has changes nothing and raises no event.
func (o *Order) ChangeItemQuantity(productID string, quantity int64, now time.Time) error {
	if err := o.may(ActionChangeQuantity); err != nil {
		return err
	}
	q, err := NewQuantity(quantity)
	if err != nil {
		return err
	}
	i, found := o.line(productID)
	if !found {
		return broken(RuleProductNotInOrder, "product %q is not in the order", truncate(productID, 40))
	}
	old := o.state.Items[i]
	if old.quantity == q {
		return nil
	}
	changed, err := old.withQuantity(q)
	if err != nil {
		return err
	}
	total, err := o.state.Total.Sub(old.subtotal)
	if err == nil {
		total, err = total.Add(changed.subtotal)
	}
	if err != nil {
		return invalid("quantity", "the order total would exceed %s", formatMinor(MaxAmount))
	}
	return o.raise(OrderItemQuantityChanged{
		EventHeader: o.next(now), ItemID: old.id, ProductID: old.productID,
		Quantity: q, Subtotal: changed.subtotal, Total: total,
	})
}

// ChangeShippingAddress sets a new destination until the order ships. The
// same address again changes nothing.
func (o *Order) ChangeShippingAddress(address PostalAddress, now time.Time) error {
	if err := o.may(ActionChangeAddress); err != nil {
		return err
	}
	if err := requireAddress(address); err != nil {
		return err
	}
	if address == o.state.ShippingAddress {
		return nil
	}
	return o.raise(ShippingAddressChanged{EventHeader: o.next(now), ShippingAddress: address})
}

// Confirm accepts a pending order for fulfilment.
func (o *Order) Confirm(now time.Time) error {
	if err := o.may(ActionConfirm); err != nil {
		return err
	}
	return o.raise(OrderConfirmed{EventHeader: o.next(now)})
}

// Pay records a payment, which must equal the total in the same currency.
func (o *Order) Pay(amount Money, reference string, now time.Time) error {
	if err := o.may(ActionPay); err != nil {
		return err
	}
	if err := checkOptionalText("payment_reference", reference, MaxPaymentRefLen); err != nil {
		return err
	}
	if amount != o.state.Total {
		return broken(RulePaymentMismatch, "payment of %s %s does not equal the order total %s %s",
			amount, amount.currency, o.state.Total, o.state.Currency)
	}
	return o.raise(OrderPaid{EventHeader: o.next(now), Amount: amount, PaymentReference: reference})
}

// Ship records the hand-over of a paid order to a carrier.
func (o *Order) Ship(carrier, trackingNumber string, now time.Time) error {
	if err := o.may(ActionShip); err != nil {
		return err
	}
	if err := checkText("carrier", carrier, MaxCarrierLen, false); err != nil {
		return err
	}
	if err := checkText("tracking_number", trackingNumber, MaxTrackingLen, false); err != nil {
		return err
	}
	return o.raise(OrderShipped{EventHeader: o.next(now), Carrier: carrier, TrackingNumber: trackingNumber})
}

// Deliver records the delivery of a shipped order.
func (o *Order) Deliver(now time.Time) error {
	if err := o.may(ActionDeliver); err != nil {
		return err
	}
	return o.raise(OrderDelivered{EventHeader: o.next(now)})
}

// Cancel ends an order that has not shipped. Cancelling a paid order records
// that the payment is due back to the customer.
func (o *Order) Cancel(reason string, now time.Time) error {
	if err := o.may(ActionCancel); err != nil {
		return err
	}
	if err := checkText("reason", reason, MaxReasonLen, false); err != nil {
		return err
	}
	e := OrderCancelled{EventHeader: o.next(now), Reason: reason, PreviousStatus: o.state.Status}
	if o.state.Payment != nil {
		e.RefundDue = true
		e.RefundAmount = o.state.Payment.Amount
	}
	return o.raise(e)
}

func (o *Order) may(a Action) error {
	if !o.state.Status.Allows(a) {
		return &TransitionError{Status: o.state.Status, Action: a}
	}
	return nil
}

func (o *Order) next(now time.Time) EventHeader {
	return EventHeader{OrderID: o.state.ID, Version: o.state.Version + 1, OccurredAt: now}
}

func (o *Order) line(productID string) (int, bool) {
	i := slices.IndexFunc(o.state.Items, func(l LineItem) bool { return l.productID == productID })
	return i, i >= 0
}

// MaxEvents is the most events one order's history may hold. Orders grow
// long legitimately (items added, quantities and addresses changed), but a
// history without bound makes every load and replay slower for good.
const MaxEvents = 10_000

// lifecycleReserve is the most events an order raises after its last edit:
// confirmed, paid, shipped, delivered (or cancelled, which ends it). Edits
// stop that many events short of MaxEvents, so an order whose edits reached
// the cap can still finish its lifecycle or be cancelled.
const lifecycleReserve = 4

// withinCap refuses the event that would take the order past MaxEvents, or
// an edit that would eat into the lifecycle's reserve.
func withinCap(e Event) error {
	v := e.Header().Version
	switch e.(type) {
	case OrderItemAdded, OrderItemRemoved, OrderItemQuantityChanged, ShippingAddressChanged:
		if v > MaxEvents-lifecycleReserve {
			return broken(RuleTooManyEvents, "an order holds at most %d events, the last %d kept for finishing its lifecycle: "+
				"this order can no longer be changed, only moved on or cancelled; place a new order for further changes",
				MaxEvents, lifecycleReserve)
		}
	}
	if v > MaxEvents {
		return broken(RuleTooManyEvents, "the order holds %d events, the most an order may hold", MaxEvents)
	}
	return nil
}

func (o *Order) raise(e Event) error {
	if err := withinCap(e); err != nil {
		return err
	}
	if err := o.apply(e); err != nil {
		return err
	}
	o.pending = append(o.pending, e)
	return nil
}

func sum(currency Currency, items []LineItem) (Money, error) {
	total := Money{currency: currency}
	for _, it := range items {
		var err error
		if total, err = total.Add(it.subtotal); err != nil {
			return Money{}, invalid("items", "the order total would exceed %s", formatMinor(MaxAmount))
		}
	}
	return total, nil
}

// Diff lists the fields in which two states differ, empty when they are
// the same state. Times compare as instants. It lets tests and the
// consistency checker say exactly what a projection got wrong.
func (s State) Diff(o State) []string {
	var d []string
	add := func(field string, a, b any) { d = append(d, fmt.Sprintf("%s: %v != %v", field, a, b)) }
	if s.ID != o.ID {
		add("id", s.ID, o.ID)
	}
	if s.UserID != o.UserID {
		add("user_id", s.UserID, o.UserID)
	}
	if s.Currency != o.Currency {
		add("currency", s.Currency, o.Currency)
	}
	if s.ShippingAddress != o.ShippingAddress {
		add("shipping_address", fmt.Sprintf("%+v", s.ShippingAddress.Fields()), fmt.Sprintf("%+v", o.ShippingAddress.Fields()))
	}
	if s.Status != o.Status {
		add("status", s.Status, o.Status)
	}
	if s.Total != o.Total {
		add("total", s.Total, o.Total)
	}
	if !s.CreatedAt.Equal(o.CreatedAt) {
		add("created_at", s.CreatedAt, o.CreatedAt)
	}
	if !s.UpdatedAt.Equal(o.UpdatedAt) {
		add("updated_at", s.UpdatedAt, o.UpdatedAt)
	}
	if s.Version != o.Version {
		add("version", s.Version, o.Version)
	}
	if !slices.Equal(s.Items, o.Items) {
		add("items", s.Items, o.Items)
	}
	if !equalPtr(s.Payment, o.Payment, func(a, b Payment) bool {
		return a.Amount == b.Amount && a.Reference == b.Reference && a.PaidAt.Equal(b.PaidAt)
	}) {
		add("payment", s.Payment, o.Payment)
	}
	if !equalPtr(s.Shipment, o.Shipment, func(a, b Shipment) bool {
		return a.Carrier == b.Carrier && a.TrackingNumber == b.TrackingNumber &&
			a.ShippedAt.Equal(b.ShippedAt) && a.DeliveredAt.Equal(b.DeliveredAt)
	}) {
		add("shipment", s.Shipment, o.Shipment)
	}
	if !equalPtr(s.Cancellation, o.Cancellation, func(a, b Cancellation) bool {
		return a.Reason == b.Reason && a.RefundDue == b.RefundDue && a.RefundAmount == b.RefundAmount && a.CancelledAt.Equal(b.CancelledAt)
	}) {
		add("cancellation", s.Cancellation, o.Cancellation)
	}
	return d
}

func equalPtr[T any](a, b *T, eq func(T, T) bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return eq(*a, *b)
}

// requireAddress refuses the zero PostalAddress, no address at all: every
// other value was validated when it was made.
func requireAddress(a PostalAddress) error {
	if a.IsZero() {
		return invalid("shipping_address", "an order needs an address")
	}
	return nil
}

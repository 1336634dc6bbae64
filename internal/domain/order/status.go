package order

// Status is a stage of the order lifecycle:
//
//	PENDING → CONFIRMED → PAID → SHIPPED → DELIVERED
//	PENDING | CONFIRMED | PAID → CANCELLED
type Status string

// The lifecycle's statuses. The values are what the seed's orders.status
// column holds.
const (
	StatusPending   Status = "PENDING"
	StatusConfirmed Status = "CONFIRMED"
	StatusPaid      Status = "PAID"
	StatusShipped   Status = "SHIPPED"
	StatusDelivered Status = "DELIVERED"
	StatusCancelled Status = "CANCELLED"
)

// Statuses lists every status in lifecycle order.
var Statuses = [...]Status{StatusPending, StatusConfirmed, StatusPaid, StatusShipped, StatusDelivered, StatusCancelled}

// ParseStatus validates a status name.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", invalid("status", "%q is not an order status", truncate(s, 20))
}

// Action is something a caller asks an order to do. The values are stable
// identifiers: they reach API clients as error metadata. Phrase gives the
// words for messages.
type Action string

// The actions of the lifecycle.
const (
	ActionAddItem        Action = "ADD_ITEM"
	ActionRemoveItem     Action = "REMOVE_ITEM"
	ActionChangeQuantity Action = "CHANGE_QUANTITY"
	ActionChangeAddress  Action = "CHANGE_ADDRESS"
	ActionConfirm        Action = "CONFIRM"
	ActionPay            Action = "PAY"
	ActionShip           Action = "SHIP"
	ActionDeliver        Action = "DELIVER"
	ActionCancel         Action = "CANCEL"
)

// phrases say each action as a verb phrase whose object is an order:
// "cannot " + phrase + " an order that is PAID".
var phrases = map[Action]string{
	ActionAddItem:        "add an item to",
	ActionRemoveItem:     "remove an item from",
	ActionChangeQuantity: "change an item quantity of",
	ActionChangeAddress:  "change the shipping address of",
	ActionConfirm:        "confirm",
	ActionPay:            "pay",
	ActionShip:           "ship",
	ActionDeliver:        "deliver",
	ActionCancel:         "cancel",
}

// Phrase is the action in words, for messages; an unknown action is said
// by its identifier.
func (a Action) Phrase() string {
	if p, ok := phrases[a]; ok {
		return p
	}
	return string(a)
}

// Actions lists every action on an existing order.
var Actions = [...]Action{
	ActionAddItem, ActionRemoveItem, ActionChangeQuantity, ActionChangeAddress,
	ActionConfirm, ActionPay, ActionShip, ActionDeliver, ActionCancel,
}

// allowed is the whole state machine: the statuses in which each action may
// run. Anything missing is a TransitionError.
var allowed = map[Action][]Status{
	ActionAddItem:        {StatusPending},
	ActionRemoveItem:     {StatusPending},
	ActionChangeQuantity: {StatusPending},
	ActionChangeAddress:  {StatusPending, StatusConfirmed, StatusPaid},
	ActionConfirm:        {StatusPending},
	ActionPay:            {StatusConfirmed},
	ActionShip:           {StatusPaid},
	ActionDeliver:        {StatusShipped},
	ActionCancel:         {StatusPending, StatusConfirmed, StatusPaid},
}

// Allows reports whether the action may run in status s.
func (s Status) Allows(a Action) bool {
	for _, st := range allowed[a] {
		if st == s {
			return true
		}
	}
	return false
}

// IsFinal reports whether no action can change the order any more.
func (s Status) IsFinal() bool { return s == StatusDelivered || s == StatusCancelled }

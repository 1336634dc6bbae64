package application

import (
	"fmt"

	"github.com/acme/order-service/internal/domain/order"
)

// Role is what a principal may do. The permission model, in one place:
//
//	customer: create orders for themself; read and list their own; change
//	          items and address of their own and cancel them, while the
//	          lifecycle allows
//	staff:    everything a customer may do on any order, plus confirm,
//	          record payment, ship and deliver
//	admin:    everything, including creating orders for anyone
type Role int

// The roles, least powerful first.
const (
	RoleCustomer Role = iota
	RoleStaff
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleStaff:
		return "staff"
	case RoleAdmin:
		return "admin"
	default:
		return "customer"
	}
}

// Actor is the authenticated principal a command or query runs for.
type Actor struct {
	ID   string
	Role Role
}

// Anonymous is the actor used when authentication is switched off by
// configuration: it may do everything, and events record it as "anonymous".
var Anonymous = Actor{ID: "anonymous", Role: RoleAdmin}

// ForbiddenError reports an action the actor's role does not include. (An
// order the actor may not see is reported as order.ErrNotFound instead, so
// that ids cannot be probed.)
type ForbiddenError struct {
	Actor  Actor
	Action string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("%s %q may not %s", e.Actor.Role, e.Actor.ID, e.Action)
}

// canSee reports whether the actor may read or change an order owned by owner.
func (a Actor) canSee(owner order.UserID) bool {
	return a.Role >= RoleStaff || string(owner) == a.ID
}

// authorizeOrder checks that the actor may run an action on an order: the
// order must be visible to it (else not found) and staff-only actions need
// staff.
func authorizeOrder(a Actor, owner order.UserID, action order.Action) error {
	if !a.canSee(owner) {
		return order.ErrNotFound
	}
	if staffOnly(action) && a.Role < RoleStaff {
		return &ForbiddenError{Actor: a, Action: action.Phrase() + " an order"}
	}
	return nil
}

func staffOnly(a order.Action) bool {
	switch a {
	case order.ActionConfirm, order.ActionPay, order.ActionShip, order.ActionDeliver:
		return true
	}
	return false
}

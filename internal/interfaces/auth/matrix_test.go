package auth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// The principals of the matrix besides the victim, who owns the orders
// under attack and is a different user in every case.
const (
	attacker = "mallory"
	clerk    = "sam"
	root     = "ada"
)

// credential is one column of the matrix.
type credential struct {
	name  string
	token func() string // "" sends no Authorization at all
	// who is the principal a valid token names; "" for invalid tokens.
	who  string
	role string // customer, staff or admin; "" for invalid tokens
}

func credentials(victim string) []credential {
	now := time.Now()
	victimWith := func(change func(jwt.MapClaims)) func() string {
		return func() string {
			c := claims(victim)
			change(c)
			return sign(key("rsa"), c)
		}
	}
	return []credential{
		{name: "no token", token: func() string { return "" }},
		{name: "expired", token: victimWith(func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		})},
		{name: "not yet valid", token: victimWith(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })},
		{name: "wrong issuer", token: victimWith(func(c jwt.MapClaims) { c["iss"] = "https://evil.test/" })},
		{name: "wrong audience", token: victimWith(func(c jwt.MapClaims) { c["aud"] = "billing-service" })},
		{name: "bad signature", token: func() string { return sign(key("forged"), claims(victim, "orders:admin")) }},
		{name: "alg none", token: func() string { return unsigned(claims(victim, "orders:admin")) }},
		{name: "HS256 keyed with the RSA public key", token: func() string { return confused(claims(victim, "orders:admin")) }},
		{name: "another customer", token: func() string { return sign(key("rsa"), claims(attacker)) }, who: attacker, role: "customer"},
		{name: "owner", token: func() string { return sign(key("rsa"), claims(victim)) }, who: victim, role: "customer"},
		{name: "staff", token: func() string { return sign(key("ec"), claims(clerk, "orders:staff")) }, who: clerk, role: "staff"},
		{name: "admin", token: func() string {
			c := claims(root)
			c["scope"] = "openid orders:admin" // an OAuth scope string this time
			return sign(key("ed"), c)
		}, who: root, role: "admin"},
	}
}

// rpc is one row: a call on the victim's order, prepared in a state where
// the call is legal (or deliberately not), with the code each kind of valid
// caller gets. Every invalid token gets UNAUTHENTICATED.
type rpc struct {
	name  string
	state orderv1.OrderStatus
	call  func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error // o.UserId is the victim
	// writes marks calls that append events to the order when they
	// succeed; creates, calls that add an order of the victim's.
	writes, creates            bool
	other, owner, staff, admin codes.Code
}

const (
	ok           = codes.OK
	notFound     = codes.NotFound
	denied       = codes.PermissionDenied
	precondition = codes.FailedPrecondition
)

var (
	pending   = orderv1.OrderStatus_ORDER_STATUS_PENDING
	confirmed = orderv1.OrderStatus_ORDER_STATUS_CONFIRMED
	paid      = orderv1.OrderStatus_ORDER_STATUS_PAID
	shipped   = orderv1.OrderStatus_ORDER_STATUS_SHIPPED
	delivered = orderv1.OrderStatus_ORDER_STATUS_DELIVERED
)

func rpcs() []rpc {
	return []rpc{
		{name: "CreateOrder for the victim", state: pending, other: denied, owner: ok, staff: denied, admin: ok, creates: true,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.CreateOrder(ctx, newOrder(o.GetUserId()))
				return err
			}},
		{name: "GetOrder", state: pending, other: notFound, owner: ok, staff: ok, admin: ok,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: o.GetId()})
				return err
			}},
		{name: "ListOrders of the victim", state: pending, other: denied, owner: ok, staff: ok, admin: ok,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: o.GetUserId()})
				return err
			}},
		{name: "AddOrderItem", state: pending, other: notFound, owner: ok, staff: ok, admin: ok, writes: true,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.AddOrderItem(ctx, &orderv1.AddOrderItemRequest{OrderId: o.GetId(),
					Item: &orderv1.NewLineItem{ProductId: "p3", ProductName: "Extra", Quantity: 1, UnitPrice: "1.00"}})
				return err
			}},
		{name: "RemoveOrderItem", state: pending, other: notFound, owner: ok, staff: ok, admin: ok, writes: true,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.RemoveOrderItem(ctx, &orderv1.RemoveOrderItemRequest{OrderId: o.GetId(), ProductId: "p2"})
				return err
			}},
		{name: "ChangeOrderItemQuantity", state: pending, other: notFound, owner: ok, staff: ok, admin: ok, writes: true,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.ChangeOrderItemQuantity(ctx, &orderv1.ChangeOrderItemQuantityRequest{OrderId: o.GetId(), ProductId: "p1", Quantity: 5})
				return err
			}},
		{name: "ChangeShippingAddress", state: pending, other: notFound, owner: ok, staff: ok, admin: ok, writes: true,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.ChangeShippingAddress(ctx, &orderv1.ChangeShippingAddressRequest{OrderId: o.GetId(), ShippingAddress: "9 Attacker Rd"})
				return err
			}},
		{name: "ConfirmOrder", state: pending, other: notFound, owner: denied, staff: ok, admin: ok, writes: true,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: o.GetId()})
				return err
			}},
		{name: "PayOrder", state: confirmed, other: notFound, owner: denied, staff: ok, admin: ok, writes: true, call: pay},
		{name: "ShipOrder", state: paid, other: notFound, owner: denied, staff: ok, admin: ok, writes: true, call: ship},
		{name: "DeliverOrder", state: shipped, other: notFound, owner: denied, staff: ok, admin: ok, writes: true,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.DeliverOrder(ctx, &orderv1.DeliverOrderRequest{OrderId: o.GetId()})
				return err
			}},
		{name: "CancelOrder", state: pending, other: notFound, owner: ok, staff: ok, admin: ok, writes: true, call: cancel},
		{name: "ListOrderEvents", state: pending, other: notFound, owner: ok, staff: ok, admin: ok,
			call: func(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
				_, err := c.ListOrderEvents(ctx, &orderv1.ListOrderEventsRequest{OrderId: o.GetId()})
				return err
			}},
		// The order of the checks: authentication, then visibility (an
		// order the caller may not see does not exist), then role, then the
		// lifecycle. A stranger learns nothing about the order's state.
		{name: "ShipOrder while pending", state: pending, other: notFound, owner: denied, staff: precondition, admin: precondition, call: ship},
		{name: "PayOrder while pending", state: pending, other: notFound, owner: denied, staff: precondition, admin: precondition, call: pay},
		{name: "CancelOrder once delivered", state: delivered, other: notFound, owner: precondition, staff: precondition, admin: precondition, call: cancel},
	}
}

func pay(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
	_, err := c.PayOrder(ctx, &orderv1.PayOrderRequest{OrderId: o.GetId(), Amount: o.GetTotalAmount(), PaymentReference: "pay-1"})
	return err
}

func ship(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
	_, err := c.ShipOrder(ctx, &orderv1.ShipOrderRequest{OrderId: o.GetId(), Carrier: "UPS", TrackingNumber: "1Z"})
	return err
}

func cancel(ctx context.Context, c orderv1.OrderServiceClient, o *orderv1.Order) error {
	_, err := c.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetId(), Reason: "changed my mind"})
	return err
}

func newOrder(user string) *orderv1.CreateOrderRequest {
	return &orderv1.CreateOrderRequest{UserId: user, ShippingAddress: "1 Main St", Items: []*orderv1.NewLineItem{
		{ProductId: "p1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"},
		{ProductId: "p2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5.00"},
	}}
}

func (r rpc) expect(c credential) codes.Code {
	switch c.who {
	case "":
		return codes.Unauthenticated
	case attacker:
		return r.other
	case clerk:
		return r.staff
	case root:
		return r.admin
	}
	return r.owner
}

// startJWTEnv runs the API edge with RS256, ES256 and EdDSA keys from a JWKS
// served over HTTP, as production would.
func startJWTEnv(t *testing.T) *apitest.Env {
	t.Helper()
	a := jwksAuthenticator(t, newIDP(t, key("rsa"), key("ec"), key("ed")), nil)
	return apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{Authenticator: a}})
}

// world holds tokens of the legitimate principals, for setting up and
// inspecting one victim's orders around the call under test.
type world struct {
	t                   *testing.T
	env                 *apitest.Env
	victim              string
	owner, staff, admin context.Context
}

func newWorld(t *testing.T, env *apitest.Env, victim string) world {
	ctx := t.Context()
	return world{t: t, env: env, victim: victim,
		owner: bearer(ctx, sign(key("ed"), claims(victim))),
		staff: bearer(ctx, sign(key("ed"), claims(clerk, "orders:staff"))),
		admin: bearer(ctx, sign(key("ed"), claims(root, "orders:admin"))),
	}
}

// prepare creates one of the victim's orders and moves it to state.
func (w world) prepare(state orderv1.OrderStatus) *orderv1.Order {
	w.t.Helper()
	c := w.env.GRPC
	created, err := c.CreateOrder(w.owner, newOrder(w.victim))
	if err != nil {
		w.t.Fatalf("setup create: %v", err)
	}
	o := created.GetOrder()
	step := func(resp interface{ GetOrder() *orderv1.Order }, err error) {
		w.t.Helper()
		if err != nil {
			w.t.Fatalf("setup towards %v: %v", state, err)
		}
		o = resp.GetOrder()
	}
	for o.GetStatus() != state {
		switch o.GetStatus() {
		case pending:
			step(c.ConfirmOrder(w.staff, &orderv1.ConfirmOrderRequest{OrderId: o.GetId()}))
		case confirmed:
			step(c.PayOrder(w.staff, &orderv1.PayOrderRequest{OrderId: o.GetId(), Amount: o.GetTotalAmount()}))
		case paid:
			step(c.ShipOrder(w.staff, &orderv1.ShipOrderRequest{OrderId: o.GetId(), Carrier: "UPS", TrackingNumber: "1"}))
		case shipped:
			step(c.DeliverOrder(w.staff, &orderv1.DeliverOrderRequest{OrderId: o.GetId()}))
		default:
			w.t.Fatalf("cannot reach %v from %v", state, o.GetStatus())
		}
	}
	return o
}

// observed is everything about the victim's data a call could change.
type observed struct {
	order      *orderv1.Order
	events     []*orderv1.OrderEvent
	orderCount int
}

func (w world) observe(id string) observed {
	w.t.Helper()
	got, err := w.env.GRPC.GetOrder(w.admin, &orderv1.GetOrderRequest{OrderId: id})
	if err != nil {
		w.t.Fatalf("observe order: %v", err)
	}
	events, err := w.env.GRPC.ListOrderEvents(w.admin, &orderv1.ListOrderEventsRequest{OrderId: id, PageSize: 1000})
	if err != nil {
		w.t.Fatalf("observe events: %v", err)
	}
	list, err := w.env.GRPC.ListOrders(w.admin, &orderv1.ListOrdersRequest{UserId: w.victim, PageSize: 1000})
	if err != nil {
		w.t.Fatalf("observe list: %v", err)
	}
	return observed{order: got.GetOrder(), events: events.GetEvents(), orderCount: len(list.GetOrders())}
}

// TestAuthorizationMatrix runs every RPC with every kind of credential over
// both transports and checks the code, that no failed call changed or
// created anything of the victim's, and that each write is recorded as done
// by the token's subject.
func TestAuthorizationMatrix(t *testing.T) {
	env := startJWTEnv(t)
	transports := map[string]orderv1.OrderServiceClient{"grpc": env.GRPC, "rest": env.REST}
	summary := map[codes.Code]int{}
	cases := 0
	for _, r := range rpcs() {
		for i := range credentials("") {
			for _, transport := range []string{"grpc", "rest"} {
				cases++
				victim := fmt.Sprintf("victim-%d", cases)
				cred := credentials(victim)[i]
				name := fmt.Sprintf("%s/%s/%s", r.name, cred.name, transport)
				want := r.expect(cred)
				summary[want]++
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					w := newWorld(t, env, victim)
					o := w.prepare(r.state)
					before := w.observe(o.GetId())
					err := r.call(bearer(t.Context(), cred.token()), transports[transport], o)
					if got := status.Code(err); got != want {
						t.Fatalf("code = %v (%v), want %v", got, err, want)
					}
					checkHTTPStatus(t, transport, err, want)
					after := w.observe(o.GetId())
					if want != ok {
						unchanged(t, before, after)
						return
					}
					switch {
					case r.creates && after.orderCount != before.orderCount+1:
						t.Errorf("the victim has %d orders after a create, had %d", after.orderCount, before.orderCount)
					case r.writes:
						last := after.events[len(after.events)-1]
						if len(after.events) != len(before.events)+1 || last.GetActorId() != cred.who {
							t.Errorf("write recorded as %d events, last by %q; want one more, by %q", len(after.events)-len(before.events), last.GetActorId(), cred.who)
						}
					case !proto.Equal(before.order, after.order) || len(before.events) != len(after.events):
						t.Errorf("a read changed the order")
					}
				})
			}
		}
	}
	t.Logf("matrix: %d RPC rows × %d credentials × 2 transports = %d cases; expected codes: %v", len(rpcs()), len(credentials("")), cases, summary)
}

func unchanged(t *testing.T, before, after observed) {
	t.Helper()
	if !proto.Equal(before.order, after.order) {
		t.Errorf("the victim's order changed:\nbefore %v\nafter  %v", before.order, after.order)
	}
	if len(before.events) != len(after.events) {
		t.Errorf("the victim's order has %d events, had %d", len(after.events), len(before.events))
	}
	if before.orderCount != after.orderCount {
		t.Errorf("the victim has %d orders, had %d", after.orderCount, before.orderCount)
	}
}

// checkHTTPStatus checks the REST status of the gRPC code (AIP-193 mapping).
func checkHTTPStatus(t *testing.T, transport string, err error, want codes.Code) {
	t.Helper()
	if transport != "rest" || want == ok {
		return
	}
	httpStatus := map[codes.Code]int{codes.Unauthenticated: 401, notFound: 404, denied: 403, precondition: 400}[want]
	var httpErr *apitest.HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != httpStatus {
		t.Errorf("REST answer %v, want HTTP %d", err, httpStatus)
	}
}

// TestStrangersSeeNothing checks the reads a stranger may make: its own
// listing holds none of the victim's orders, whatever filter it sends.
func TestStrangersSeeNothing(t *testing.T) {
	env := startJWTEnv(t)
	w := newWorld(t, env, "alice")
	w.prepare(pending)
	w.prepare(delivered)
	stranger := bearer(t.Context(), sign(key("rsa"), claims(attacker)))
	for name, c := range map[string]orderv1.OrderServiceClient{"grpc": env.GRPC, "rest": env.REST} {
		for _, st := range []orderv1.OrderStatus{orderv1.OrderStatus_ORDER_STATUS_UNSPECIFIED, pending, delivered} {
			list, err := c.ListOrders(stranger, &orderv1.ListOrdersRequest{UserId: attacker, Status: st})
			if err != nil || len(list.GetOrders()) != 0 {
				t.Errorf("%s: stranger's own listing (%v) = %v, %v; want empty", name, st, list.GetOrders(), err)
			}
		}
	}
}

package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/acme/order-service/api/openapi"
)

// document is the part of an OpenAPI 2.0 document the tests look at.
type document struct {
	Swagger string `json:"swagger"`
	Info    struct {
		Title string `json:"title"`
	} `json:"info"`
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
	} `json:"paths"`
	Definitions map[string]struct {
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"definitions"`
}

func parse(t *testing.T, raw []byte) document {
	t.Helper()
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("document is not valid JSON: %v", err)
	}
	return doc
}

func TestDocumentMapsEveryRPC(t *testing.T) {
	doc := parse(t, openapi.JSON())
	if doc.Swagger != "2.0" {
		t.Errorf("swagger = %q, want 2.0", doc.Swagger)
	}
	if doc.Info.Title == "" {
		t.Error("info.title is empty; is openapi.config.yaml applied?")
	}
	want := map[string]string{
		"OrderService_CreateOrder":             "post /v1/orders",
		"OrderService_GetOrder":                "get /v1/orders/{order_id}",
		"OrderService_ListOrders":              "get /v1/orders",
		"OrderService_AddOrderItem":            "post /v1/orders/{order_id}/items",
		"OrderService_RemoveOrderItem":         "delete /v1/orders/{order_id}/items/{product_id}",
		"OrderService_ChangeOrderItemQuantity": "post /v1/orders/{order_id}/items/{product_id}:changeQuantity",
		"OrderService_ChangeShippingAddress":   "post /v1/orders/{order_id}:changeShippingAddress",
		"OrderService_ConfirmOrder":            "post /v1/orders/{order_id}:confirm",
		"OrderService_PayOrder":                "post /v1/orders/{order_id}:pay",
		"OrderService_ShipOrder":               "post /v1/orders/{order_id}:ship",
		"OrderService_DeliverOrder":            "post /v1/orders/{order_id}:deliver",
		"OrderService_CancelOrder":             "post /v1/orders/{order_id}:cancel",
		"OrderService_ListOrderEvents":         "get /v1/orders/{order_id}/events",
	}
	got := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			got[op.OperationID] = method + " " + path
		}
	}
	for id, route := range want {
		if got[id] != route {
			t.Errorf("%s is mapped to %q, want %q", id, got[id], route)
		}
	}
	if len(got) != len(want) {
		t.Errorf("document has %d operations, want %d: %v", len(got), len(want), got)
	}
}

func TestDocumentUsesProtoFieldNames(t *testing.T) {
	doc := parse(t, openapi.JSON())
	props := doc.Definitions["CreateOrderRequest"].Properties
	for _, name := range []string{"user_id", "items", "shipping_address"} {
		if _, ok := props[name]; !ok {
			t.Errorf("CreateOrderRequest has no property %q; properties: %v", name, props)
		}
	}
}

func TestJSONReturnsACopy(t *testing.T) {
	first := openapi.JSON()
	first[0] = 'x'
	if second := openapi.JSON(); second[0] == 'x' {
		t.Error("JSON returned shared memory")
	}
}

func TestHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	openapi.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET status = %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	parse(t, rec.Body.Bytes())

	rec = httptest.NewRecorder()
	openapi.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/openapi.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", rec.Code)
	}
}

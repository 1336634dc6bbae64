package sqlite

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acme/order-service/internal/application"
)

// An event row written by a build at schema version 1 (the address as text
// only) is upcast wherever it is read: loading the order, listing its
// history and publishing it.
func TestRowsOfAnOlderSchemaVersionAreReadInTheCurrentShape(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := t.Context()
	meta := application.CommandMeta{Actor: application.Actor{ID: "user-1", Role: application.RoleAdmin}}
	created, err := newCommands(s).CreateOrder(ctx, createOrder(meta, "user-1"))
	must(t, err)
	records, err := s.ListOrderEvents(ctx, created.ID, 0, 10)
	must(t, err)
	var payload map[string]any
	must(t, json.Unmarshal(records[0].Data, &payload))
	delete(payload, "postal_address") // what version 1 wrote
	v1, err := json.Marshal(payload)
	must(t, err)
	_, err = s.db.ExecContext(ctx, `UPDATE order_events SET schema_version = 1, data = ? WHERE aggregate_id = ? AND version = 1`,
		string(v1), idBytes(created.ID))
	must(t, err)

	history, err := s.Load(ctx, created.ID)
	must(t, err)
	if len(history) != 1 {
		t.Fatalf("loaded %d events, want 1", len(history))
	}
	listed, err := s.ListOrderEvents(ctx, created.ID, 0, 10)
	must(t, err)
	if got := listed[0]; got.Metadata.SchemaVersion != application.CurrentEventSchemaVersion || !strings.Contains(string(got.Data), `"postal_address"`) {
		t.Fatalf("listed a v1 row as schema version %d: %s; want the current shape", got.Metadata.SchemaVersion, got.Data)
	}
	if string(listed[0].Data) != string(records[0].Data) {
		t.Errorf("upcast payload %s, want what this build writes: %s", listed[0].Data, records[0].Data)
	}
}

package eventlog_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/protomap"
	"github.com/acme/order-service/internal/protomap/golden"
)

// The golden payloads of every schema version, read the way the stores read
// them: through the registered upcasters. Each history must replay to its
// newest expected state, and each upcast payload must be exactly what this
// build writes for the event it decodes to, so the relay publishes the
// current shape.

const goldenDir = "../../protomap/testdata/golden"

func TestGoldenHistoriesUpcastAndReplay(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "v*", "*", golden.StreamFile))
	must(t, err)
	if len(dirs) == 0 {
		t.Fatal("no golden histories found")
	}
	for _, stream := range dirs {
		dir := filepath.Dir(stream)
		t.Run(filepath.ToSlash(dir[len(goldenDir)+1:]), func(t *testing.T) { replayUpcast(t, dir) })
	}
}

func replayUpcast(t *testing.T, dir string) {
	stream, err := golden.ReadStream(dir)
	must(t, err)
	id, err := order.ParseID(stream.AggregateID)
	must(t, err)
	rows := make([]eventlog.StoredEvent, len(stream.Events))
	for i, e := range stream.Events {
		rows[i] = eventlog.StoredEvent{Type: e.EventType, Version: e.Version, SchemaVersion: e.SchemaVersion, OccurredAt: e.OccurredAt, Data: read(t, dir, e.Data)}
	}
	history, err := eventlog.DecodeHistory(id, rows)
	must(t, err)
	for i, r := range rows {
		up, err := eventlog.Upcast(r)
		must(t, err)
		current, err := protomap.MarshalEvent(history[i])
		must(t, err)
		if up.SchemaVersion != application.CurrentEventSchemaVersion || !sameJSON(t, up.Data, current) {
			t.Errorf("%s upcast to schema version %d as %s; this build writes %s", r.Type, up.SchemaVersion, up.Data, current)
		}
	}
	o, err := order.Rehydrate(history)
	must(t, err)
	want := &orderv1.Order{}
	name, err := golden.NewestWant(dir)
	must(t, err)
	must(t, protojson.Unmarshal(read(t, dir, name), want))
	if got := protomap.Order(o.State()); !proto.Equal(got, want) {
		t.Errorf("replayed state differs:\ngot  %s\nwant %s", protojson.Format(got), protojson.Format(want))
	}
}

// sameJSON reports whether two JSON documents hold the same values.
func sameJSON(t *testing.T, a, b []byte) bool {
	var va, vb any
	must(t, json.Unmarshal(a, &va))
	must(t, json.Unmarshal(b, &vb))
	return reflect.DeepEqual(va, vb)
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := golden.Read(dir, name)
	must(t, err)
	return b
}

package eventlog_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/protomap"
)

// The golden payloads of every schema version, read the way the stores read
// them: through the registered upcasters. Each history must replay to its
// newest expected state, and each upcast payload must be exactly what this
// build writes for the event it decodes to, so the relay publishes the
// current shape.

const goldenDir = "../../protomap/testdata/golden"

var wantFile = regexp.MustCompile(`^want(\.v([0-9]+))?\.json$`)

func TestGoldenHistoriesUpcastAndReplay(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "v*", "*", "stream.json"))
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
	var stream struct {
		AggregateID string `json:"aggregate_id"`
		Events      []struct {
			Version       int       `json:"version"`
			EventType     string    `json:"event_type"`
			SchemaVersion int       `json:"schema_version"`
			OccurredAt    time.Time `json:"occurred_at"`
			Data          string    `json:"data"`
		} `json:"events"`
	}
	must(t, json.Unmarshal(read(t, dir, "stream.json"), &stream))
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
	must(t, protojson.Unmarshal(read(t, dir, newestWant(t, dir)), want))
	if got := protomap.Order(o.State()); !proto.Equal(got, want) {
		t.Errorf("replayed state differs:\ngot  %s\nwant %s", protojson.Format(got), protojson.Format(want))
	}
}

// newestWant is want.json or the want.vN.json of the highest N.
func newestWant(t *testing.T, dir string) string {
	entries, err := os.ReadDir(dir)
	must(t, err)
	name, newest := "want.json", 0
	for _, e := range entries {
		if m := wantFile.FindStringSubmatch(e.Name()); m != nil && m[2] != "" {
			if n, err := strconv.Atoi(m[2]); err == nil && n > newest {
				name, newest = e.Name(), n
			}
		}
	}
	return name
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
	b, err := os.ReadFile(filepath.Join(dir, name))
	must(t, err)
	return b
}

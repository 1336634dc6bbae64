package protomap_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
	"github.com/acme/order-service/internal/protomap/golden"
)

// Golden payloads: stored event payloads of every schema version ever
// written, committed once and never edited, so that every build proves it
// still reads its whole history. testdata/golden/README.md has the layout.

var updateGolden = flag.Bool("update-golden", false,
	"write the golden files of the current schema version (only once: existing files are never rewritten)")

const goldenDir = "testdata/golden"

func TestGoldenPayloads(t *testing.T) {
	if *updateGolden {
		writeGolden(t, application.CurrentEventSchemaVersion)
	}
	versions := goldenVersions(t)
	if len(versions) == 0 || versions[len(versions)-1] != application.CurrentEventSchemaVersion {
		t.Fatalf("golden versions %v do not reach the current schema version %d: run go test ./internal/protomap -run TestGolden -update-golden",
			versions, application.CurrentEventSchemaVersion)
	}
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("golden versions %v skip a version: every version ever written needs its files", versions)
		}
		seen := map[string]bool{}
		for _, dir := range goldenScenarios(t, v) {
			t.Run(filepath.ToSlash(must(filepath.Rel(goldenDir, dir))(t)), func(t *testing.T) {
				for _, typ := range replayGolden(t, dir, v) {
					seen[typ] = true
				}
			})
		}
		if v == application.CurrentEventSchemaVersion {
			for _, typ := range allEventTypes {
				if !seen[typ] {
					t.Errorf("no golden payload of %s at schema version %d", typ, v)
				}
			}
		}
	}
}

// replayGolden decodes a scenario's payloads in history order, replays them
// and compares the state with the expected one; it returns the event types
// it read.
func replayGolden(t *testing.T, dir string, version int) []string {
	stream, err := golden.ReadStream(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := must(order.ParseID(stream.AggregateID))(t)
	checkGoldenFiles(t, dir, stream)

	var currency order.Currency
	var types []string
	history := make([]order.Event, len(stream.Events))
	for i, row := range stream.Events {
		if row.SchemaVersion != version {
			t.Fatalf("%s: schema_version %d in the v%d directory", row.Data, row.SchemaVersion, version)
		}
		h := order.EventHeader{OrderID: id, Version: row.Version, OccurredAt: row.OccurredAt}
		e, err := protomap.UnmarshalEvent(h, row.EventType, readGolden(t, dir, row.Data), currency)
		if err != nil {
			t.Fatalf("%s: %v", row.Data, err)
		}
		if created, ok := e.(order.OrderCreated); ok {
			currency = created.Currency
		}
		history[i] = e
		types = append(types, row.EventType)
	}
	o, err := order.Rehydrate(history)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	got := protomap.Order(o.State())
	want := &orderv1.Order{}
	name := must(golden.NewestWant(dir))(t)
	if err := protojson.Unmarshal(readGolden(t, dir, name), want); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("replayed state differs from %s:\ngot  %s\nwant %s", name, protojson.Format(got), protojson.Format(want))
	}
	return types
}

// checkGoldenFiles requires the stream to list every payload file of its
// directory exactly once, in version order from 1, so no file goes unread.
func checkGoldenFiles(t *testing.T, dir string, stream golden.Stream) {
	t.Helper()
	listed := map[string]bool{golden.StreamFile: true, golden.WantFile: true}
	for i, row := range stream.Events {
		if row.Version != i+1 || listed[row.Data] {
			t.Fatalf("%s: row %d is version %d with file %q; want version %d and a file of its own", golden.StreamFile, i, row.Version, row.Data, i+1)
		}
		listed[row.Data] = true
	}
	for _, e := range must(os.ReadDir(dir))(t) {
		if !listed[e.Name()] && !golden.IsWantOverride(e.Name()) {
			t.Errorf("%s is not listed in %s", e.Name(), golden.StreamFile)
		}
	}
}

// goldenVersions returns the schema versions with a v<N> directory, sorted.
func goldenVersions(t *testing.T) []int {
	t.Helper()
	var versions []int
	for _, e := range must(os.ReadDir(goldenDir))(t) {
		if n, err := strconv.Atoi(e.Name()[1:]); e.IsDir() && e.Name()[0] == 'v' && err == nil {
			versions = append(versions, n)
		}
	}
	slices.Sort(versions)
	return versions
}

func goldenScenarios(t *testing.T, version int) []string {
	t.Helper()
	dirs := must(filepath.Glob(filepath.Join(goldenDir, fmt.Sprintf("v%d", version), "*", golden.StreamFile)))(t)
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

func readGolden(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := golden.Read(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeGolden records the scenarios' payloads, exactly as MarshalEvent
// writes them, into v<version>. It refuses to touch an existing directory:
// golden files are written once and never rewritten.
func writeGolden(t *testing.T, version int) {
	root := filepath.Join(goldenDir, fmt.Sprintf("v%d", version))
	switch _, err := os.Stat(root); {
	case err == nil:
		t.Fatalf("%s exists: golden files are never rewritten; add a new schema version instead", root)
	case !errors.Is(err, fs.ErrNotExist):
		t.Fatal(err)
	}
	histories := lifecycles(t)
	if len(histories) != len(goldenScenarioNames) {
		t.Fatalf("%d lifecycles for %d golden scenario names", len(histories), len(goldenScenarioNames))
	}
	for i, history := range histories {
		dir := filepath.Join(root, goldenScenarioNames[i])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		o := must(order.Rehydrate(history))(t)
		stream := golden.Stream{AggregateID: o.ID().String()}
		for _, e := range history {
			row := golden.Row{
				Version: e.Header().Version, EventType: e.EventType(), SchemaVersion: version,
				OccurredAt: e.Header().OccurredAt, Data: fmt.Sprintf("%02d-%s.json", e.Header().Version, e.EventType()),
			}
			writeGoldenFile(t, dir, row.Data, must(protomap.MarshalEvent(e))(t))
			stream.Events = append(stream.Events, row)
		}
		writeGoldenFile(t, dir, golden.StreamFile, append(must(json.MarshalIndent(stream, "", "  "))(t), '\n'))
		want := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}
		writeGoldenFile(t, dir, golden.WantFile, append(must(want.Marshal(protomap.Order(o.State())))(t), '\n'))
	}
}

func writeGoldenFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goldenScenarioNames names the histories of lifecycles, which together raise
// every event type.
var goldenScenarioNames = []string{"delivered", "refunded", "cancelled-pending", "cancelled-confirmed"}

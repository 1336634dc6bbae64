// Package golden reads the committed golden payloads of
// internal/protomap/testdata/golden (see the README there): one directory
// per schema version and scenario, holding the scenario's rows as
// order_events stores them (stream.json), one file per payload, and the
// expected final state (want.json, and want.vN.json where a later schema
// version expects more of an old history). Both the protomap and the
// eventlog tests read them through this package, so the layout is written
// down once.
package golden

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// The fixed files of a scenario directory.
const (
	StreamFile = "stream.json"
	WantFile   = "want.json" // the expected final state, a protojson order.v1.Order
)

// Stream is a scenario's rows as order_events stores them.
type Stream struct {
	AggregateID string `json:"aggregate_id"`
	Events      []Row  `json:"events"`
}

// Row is one stored event; its payload is in the file Data names, next to
// stream.json.
type Row struct {
	Version       int       `json:"version"`
	EventType     string    `json:"event_type"`
	SchemaVersion int       `json:"schema_version"`
	OccurredAt    time.Time `json:"occurred_at"`
	Data          string    `json:"data"`
}

var wantOverride = regexp.MustCompile(`^want\.v([0-9]+)\.json$`)

// IsWantOverride reports whether name is a want.vN.json.
func IsWantOverride(name string) bool { return wantOverride.MatchString(name) }

// ReadStream reads a scenario directory's stream.json.
func ReadStream(dir string) (Stream, error) {
	var s Stream
	b, err := Read(dir, StreamFile)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, StreamFile), err)
	}
	return s, nil
}

// NewestWant names the expectation that holds for this build: want.json, or
// the want.vN.json of the highest N.
func NewestWant(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	name, newest := WantFile, 0
	for _, e := range entries {
		if m := wantOverride.FindStringSubmatch(e.Name()); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > newest {
				name, newest = e.Name(), n
			}
		}
	}
	return name, nil
}

// Read returns a file of a scenario directory.
func Read(dir, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, name))
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Entry is one request as the load client sent it and what came back: one
// JSON line of the journal. Every attempt of a request is its own entry;
// attempts share the request id and the payload.
type Entry struct {
	Seq             int64           `json:"seq"`
	Sent            time.Time       `json:"sent"`
	Scenario        string          `json:"scenario"`
	Phase           string          `json:"phase"` // load, race, held, retry (the checker's own)
	Worker          int             `json:"worker"`
	RequestID       string          `json:"request_id"`
	Op              string          `json:"op"`
	Attempt         int             `json:"attempt"`
	Target          string          `json:"target,omitempty"` // order id a mutation names
	ExpectedVersion int64           `json:"expected_version,omitempty"`
	Request         json.RawMessage `json:"request"` // protojson of the request: the payload a retry resends
	Code            string          `json:"code"`    // gRPC code name, "OK" on success
	Message         string          `json:"message,omitempty"`
	OrderID         string          `json:"order_id,omitempty"`
	Version         int64           `json:"version,omitempty"`
	LatencyMS       float64         `json:"latency_ms"`
}

// Done is when the answer (or the failure) arrived.
func (e Entry) Done() time.Time {
	return e.Sent.Add(time.Duration(e.LatencyMS * float64(time.Millisecond)))
}

// journal appends entries to a JSONL file; safe for concurrent use.
type journal struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	seq  int64
	path string
}

func createJournal(path string) (*journal, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &journal{f: f, w: bufio.NewWriterSize(f, 1<<16), path: path}, nil
}

func (j *journal) Add(e Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	b, err := json.Marshal(e)
	if err != nil { // an Entry always marshals
		panic(err)
	}
	_, _ = j.w.Write(append(b, '\n'))
}

func (j *journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.w.Flush(); err != nil {
		return err
	}
	return j.f.Close()
}

// Flush writes buffered entries out, so the file can be read back.
func (j *journal) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.w.Flush()
}

// readJournal reads a journal file back: what the checker verifies.
func readJournal(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

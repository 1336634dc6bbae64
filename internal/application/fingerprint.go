package application

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Fingerprint identifies a command's payload: the same request id with a
// different fingerprint is a client bug, not a retry.
type Fingerprint [sha256.Size]byte

// fingerprint hashes the command name and its fields, each length-prefixed
// so that no two different payloads can collide by concatenation.
func fingerprint(command string, fields ...any) Fingerprint {
	h := sha256.New()
	write := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	write(command)
	for _, f := range fields {
		write(fmt.Sprint(f))
	}
	var fp Fingerprint
	h.Sum(fp[:0])
	return fp
}

// RequestIDReusedError reports a request id that was first used with another
// payload.
type RequestIDReusedError struct {
	RequestID string
}

func (e *RequestIDReusedError) Error() string {
	return fmt.Sprintf("request id %q was already used for a different request", e.RequestID)
}

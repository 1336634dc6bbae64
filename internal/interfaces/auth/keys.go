package auth

import (
	"context"
	"errors"
	"fmt"
)

// Algorithms this package verifies. Each key type is pinned to one of them.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// KeySource finds the key that verifies a token.
type KeySource interface {
	// Algorithms lists the algorithms tokens may be signed with; a token
	// naming any other (including "none") is refused before Key is asked.
	Algorithms() []string
	// Key returns the verification key for a token whose header names kid
	// (possibly empty) and alg. It fails unless the key is pinned to alg.
	Key(ctx context.Context, kid, alg string) (any, error)
}

// MinHS256SecretBytes is the shortest HS256 secret accepted: RFC 7518 §3.2
// asks for a key at least as long as the hash output.
const MinHS256SecretBytes = 32

// ErrUnknownKey means no configured key has the token's kid.
var ErrUnknownKey = errors.New("no key with the token's kid")

// HS256Secret is the development key source: one shared secret, HS256 only.
// Whoever holds the secret can mint any token, so production uses a JWKS.
type HS256Secret struct {
	secret []byte
}

// NewHS256Secret returns the key source for secret, which must have at
// least MinHS256SecretBytes bytes.
func NewHS256Secret(secret []byte) (*HS256Secret, error) {
	if len(secret) < MinHS256SecretBytes {
		return nil, fmt.Errorf("auth: an HS256 secret needs at least %d bytes, got %d", MinHS256SecretBytes, len(secret))
	}
	return &HS256Secret{secret: secret}, nil
}

// Algorithms implements KeySource.
func (s *HS256Secret) Algorithms() []string { return []string{AlgHS256} }

// Key implements KeySource.
func (s *HS256Secret) Key(_ context.Context, _, alg string) (any, error) {
	if alg != AlgHS256 {
		return nil, fmt.Errorf("algorithm %q is not accepted with a shared secret", alg)
	}
	return s.secret, nil
}

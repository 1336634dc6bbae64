package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Limits on what a JWKS may hold.
const (
	minRSABits  = 2048
	maxRSABits  = 8192
	maxJWKSKeys = 100
)

// publicKey is one usable key of a JWKS, pinned to its algorithm.
type publicKey struct {
	kid string
	alg string
	key any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// jwk is the subset of RFC 7517/7518 members this package reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads a JWK Set. Keys this service cannot use (encryption keys,
// other curves or algorithms) are skipped, as RFC 7517 §5 asks; a set with
// no usable key, or with a malformed key of a supported type, is an error.
func parseJWKS(data []byte) ([]publicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWKS is not valid JSON: %w", err)
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("JWKS holds %d keys, more than %d", len(set.Keys), maxJWKSKeys)
	}
	var keys []publicKey
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pk, supported, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("JWKS key %d (kid %q): %w", i, k.Kid, err)
		}
		if supported {
			keys = append(keys, pk)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS holds no RS256, ES256 (P-256) or EdDSA (Ed25519) signing key")
	}
	return keys, nil
}

// publicKey decodes the key; supported is false for key types and
// algorithms this service does not verify.
func (k jwk) publicKey() (pk publicKey, supported bool, err error) {
	var alg string
	var key any
	switch {
	case k.Kty == "RSA":
		alg = AlgRS256
		key, err = k.rsa()
	case k.Kty == "EC" && k.Crv == "P-256":
		alg = AlgES256
		key, err = k.ecdsa()
	case k.Kty == "OKP" && k.Crv == "Ed25519":
		alg = AlgEdDSA
		key, err = k.ed25519()
	default:
		return publicKey{}, false, nil
	}
	if k.Alg != "" && k.Alg != alg { // e.g. an RSA key meant for PS256 or RS512
		return publicKey{}, false, nil
	}
	if err != nil {
		return publicKey{}, false, err
	}
	return publicKey{kid: k.Kid, alg: alg, key: key}, true, nil
}

func (k jwk) rsa() (*rsa.PublicKey, error) {
	n, err := decodeMember("n", k.N)
	if err != nil {
		return nil, err
	}
	e, err := decodeMember("e", k.E)
	if err != nil {
		return nil, err
	}
	modulus := new(big.Int).SetBytes(n)
	if bits := modulus.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("RSA modulus of %d bits; %d to %d accepted", bits, minRSABits, maxRSABits)
	}
	exponent := new(big.Int).SetBytes(e)
	if !exponent.IsInt64() || exponent.Int64() < 3 || exponent.Int64() > 1<<31-1 || exponent.Bit(0) == 0 {
		return nil, errors.New("RSA exponent out of range")
	}
	return &rsa.PublicKey{N: modulus, E: int(exponent.Int64())}, nil
}

func (k jwk) ecdsa() (*ecdsa.PublicKey, error) {
	x, err := decodeMember("x", k.X)
	if err != nil {
		return nil, err
	}
	y, err := decodeMember("y", k.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("P-256 coordinates must be 32 bytes each")
	}
	point := append(append([]byte{4}, x...), y...) // SEC 1 uncompressed point
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("P-256 point: %w", err)
	}
	return key, nil
}

func (k jwk) ed25519() (ed25519.PublicKey, error) {
	x, err := decodeMember("x", k.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("Ed25519 key of %d bytes, want %d", len(x), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

func decodeMember(name, v string) ([]byte, error) {
	if v == "" {
		return nil, fmt.Errorf("member %q is missing", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("member %q is not base64url: %w", name, err)
	}
	return b, nil
}

package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/MicahParks/jwkset"
)

// Limits on what a JWKS may hold.
const (
	minRSABits  = 2048
	maxRSABits  = 8192
	maxJWKSKeys = 100
)

// pinnedKeys is the store under the JWKS cache. It keeps only the keys this
// service verifies with, each pinned to the one algorithm its type allows,
// and refuses a key set without any (or with a malformed one), so that a bad
// refresh keeps the keys already known.
type pinnedKeys struct{ jwkset.Storage }

func (s pinnedKeys) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	if len(given) > maxJWKSKeys {
		return fmt.Errorf("JWKS holds %d keys, more than %d", len(given), maxJWKSKeys)
	}
	var keys []jwkset.JWK
	for _, k := range given {
		pinned, usable, err := pin(k)
		if err != nil {
			return fmt.Errorf("JWKS key %q: %w", k.Marshal().KID, err)
		}
		if usable {
			keys = append(keys, pinned)
		}
	}
	if len(keys) == 0 {
		return errors.New("JWKS holds no RS256, ES256 (P-256) or EdDSA (Ed25519) signing key")
	}
	return s.Storage.KeyReplaceAll(ctx, keys)
}

// pin returns k's public key with its alg set to the one algorithm the key
// type allows, which keyfunc then requires of the token. usable is false for
// keys this service does not verify with (encryption keys, symmetric keys,
// other curves or algorithms), which RFC 7517 §5 says to skip.
func pin(k jwkset.JWK) (pinned jwkset.JWK, usable bool, err error) {
	m := k.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return jwkset.JWK{}, false, nil
	}
	key := k.Key()
	if private, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = private.Public()
	}
	var alg jwkset.ALG
	switch pub := key.(type) {
	case *rsa.PublicKey:
		alg = jwkset.AlgRS256
		if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			err = fmt.Errorf("RSA modulus of %d bits; %d to %d accepted", bits, minRSABits, maxRSABits)
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return jwkset.JWK{}, false, nil
		}
		alg = jwkset.AlgES256
	case ed25519.PublicKey:
		alg = jwkset.AlgEdDSA
	default:
		return jwkset.JWK{}, false, nil
	}
	if m.ALG != "" && m.ALG != alg { // e.g. an RSA key meant for PS256 or RS512
		return jwkset.JWK{}, false, nil
	}
	if err != nil {
		return jwkset.JWK{}, false, err
	}
	pinned, err = jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: m.KID, ALG: alg, USE: jwkset.UseSig},
	})
	return pinned, err == nil, err
}

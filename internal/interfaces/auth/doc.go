// Package auth verifies the bearer JWTs callers present and turns them into
// the application's Actor: the subject is the actor id, the role comes from a
// roles or scope claim. Keys come from a JWKS (a file or an identity
// provider's URL, cached and refreshed by jwkset, looked up by keyfunc) or,
// for development only, an HS256 shared secret. Each key is pinned to the one algorithm its type allows, so
// "alg": "none" and algorithm confusion (an HS256 token "signed" with an RSA
// public key) are refused before any signature is checked.
//
// It also mints the HS256 development tokens of cmd/devtoken.
package auth

package auth

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// DevToken describes an HS256 token for development and tests.
type DevToken struct {
	Subject  string
	Role     application.Role
	Secret   []byte
	Issuer   string // empty: no iss claim
	Audience string // empty: no aud claim
	TTL      time.Duration
	// RoleClaim receives the role's scope as a one-element array (nothing
	// for a customer); empty means "roles".
	RoleClaim              string
	StaffScope, AdminScope string // empty: the defaults
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

// ParseRole reads "customer", "staff" or "admin".
func ParseRole(s string) (application.Role, error) {
	for _, r := range []application.Role{application.RoleCustomer, application.RoleStaff, application.RoleAdmin} {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role %q is not customer, staff or admin", s)
}

// Mint signs the token. It refuses what the service would refuse: a short
// secret, an invalid subject, a token that is never valid.
func (d DevToken) Mint() (string, error) {
	if len(d.Secret) < MinHS256SecretBytes {
		return "", fmt.Errorf("the secret needs at least %d bytes, got %d", MinHS256SecretBytes, len(d.Secret))
	}
	if _, err := order.NewUserID(d.Subject); err != nil {
		return "", fmt.Errorf("subject: %w", err)
	}
	if d.TTL <= 0 {
		return "", errors.New("the lifetime must be positive")
	}
	if d.Now.IsZero() {
		d.Now = time.Now()
	}
	claims := jwt.MapClaims{
		"sub": d.Subject,
		"iat": jwt.NewNumericDate(d.Now),
		"nbf": jwt.NewNumericDate(d.Now),
		"exp": jwt.NewNumericDate(d.Now.Add(d.TTL)),
	}
	if d.Issuer != "" {
		claims["iss"] = d.Issuer
	}
	if d.Audience != "" {
		claims["aud"] = d.Audience
	}
	if scope := d.scope(); scope != "" {
		claim := d.RoleClaim
		if claim == "" {
			claim = "roles"
		}
		claims[claim] = []string{scope}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(d.Secret)
}

func (d DevToken) scope() string {
	switch d.Role {
	case application.RoleAdmin:
		return cmp.Or(d.AdminScope, DefaultAdminScope)
	case application.RoleStaff:
		return cmp.Or(d.StaffScope, DefaultStaffScope)
	}
	return ""
}

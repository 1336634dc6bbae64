package grpcapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// pki is a throwaway certificate authority.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newPKI(t *testing.T, name string) pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pki{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate and key, PEM-encoded.
func (p pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientCreds trusts ca and presents cert (none when certPEM is nil).
func clientCreds(t *testing.T, ca pki, certPEM, keyPEM []byte) credentials.TransportCredentials {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg)
}

// TestMutualTLS: with a client CA configured, only clients with a
// certificate from it get a connection; the REST gateway still works, over
// its in-process connection.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, rogue := newPKI(t, "orders CA"), newPKI(t, "rogue CA")
	serverCert, serverKey := ca.issue(t, "order-service", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "billing-service", x509.ExtKeyUsageClientAuth)
	rogueCert, rogueKey := rogue.issue(t, "intruder", x509.ExtKeyUsageClientAuth)
	certFile, keyFile := writeFile(t, dir, "server.pem", serverCert), writeFile(t, dir, "server-key.pem", serverKey)
	cfg, err := grpcapi.LoadServerTLS(certFile, keyFile, writeFile(t, dir, "ca.pem", ca.pem))
	if err != nil {
		t.Fatal(err)
	}
	env := apitest.Start(t, apitest.Options{
		GRPC:        grpcapi.ServerConfig{TLS: cfg},
		ClientCreds: clientCreds(t, ca, clientCert, clientKey),
	})
	ctx := apitest.As(testContext(t), "customer", "u")
	list := &orderv1.ListOrdersRequest{UserId: "u"}

	if _, err := env.GRPC.ListOrders(ctx, list); err != nil {
		t.Fatalf("client with a certificate from the client CA: %v", err)
	}
	if _, err := env.REST.ListOrders(ctx, list); err != nil {
		t.Fatalf("REST through the gateway: %v", err)
	}
	for name, creds := range map[string]credentials.TransportCredentials{
		"no client certificate":       clientCreds(t, ca, nil, nil),
		"certificate from another CA": clientCreds(t, ca, rogueCert, rogueKey),
		"plaintext":                   insecure.NewCredentials(),
	} {
		c := orderv1.NewOrderServiceClient(apitest.Dial(t, env.GRPCAddr, creds))
		if _, err := c.ListOrders(ctx, list); status.Code(err) != codes.Unavailable {
			t.Errorf("%s: %v, want the connection refused (UNAVAILABLE)", name, err)
		}
	}
}

func TestServerOnlyTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, "orders CA")
	serverCert, serverKey := ca.issue(t, "order-service", x509.ExtKeyUsageServerAuth)
	cfg, err := grpcapi.LoadServerTLS(writeFile(t, dir, "s.pem", serverCert), writeFile(t, dir, "k.pem", serverKey), "")
	if err != nil {
		t.Fatal(err)
	}
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{TLS: cfg}, ClientCreds: clientCreds(t, ca, nil, nil)})
	if _, err := env.GRPC.ListOrders(apitest.As(testContext(t), "customer", "u"), &orderv1.ListOrdersRequest{UserId: "u"}); err != nil {
		t.Fatalf("TLS client without certificate when none is required: %v", err)
	}
}

func TestLoadServerTLSErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, "orders CA")
	cert, key := ca.issue(t, "order-service", x509.ExtKeyUsageServerAuth)
	certFile, keyFile := writeFile(t, dir, "s.pem", cert), writeFile(t, dir, "k.pem", key)
	for name, files := range map[string][3]string{
		"missing certificate": {filepath.Join(dir, "nope.pem"), keyFile, ""},
		"key is not a key":    {certFile, certFile, ""},
		"missing client CA":   {certFile, keyFile, filepath.Join(dir, "nope.pem")},
		"client CA not PEM":   {certFile, keyFile, writeFile(t, dir, "ca.txt", []byte("not a certificate"))},
	} {
		if _, err := grpcapi.LoadServerTLS(files[0], files[1], files[2]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

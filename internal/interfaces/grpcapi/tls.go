package grpcapi

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc/credentials"
)

// LoadServerTLS builds the gRPC server's TLS configuration from PEM files:
// the server's certificate chain and key, and optionally the CA bundle that
// client certificates must chain to. With a client CA, every network client
// must present a certificate it signed (mutual TLS for service-to-service
// callers); the caller's JWT still decides what it may do.
func LoadServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server certificate and key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("client CA: no PEM certificate in %s", clientCAFile)
	}
	cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	return cfg, nil
}

// serverCredentials does TLS with network clients and nothing with the REST
// gateway's in-process connections, which never leave the process.
type serverCredentials struct {
	credentials.TransportCredentials
}

func newServerCredentials(cfg *tls.Config) credentials.TransportCredentials {
	return serverCredentials{credentials.NewTLS(cfg)}
}

// gatewayAuthInfo describes an in-process connection.
type gatewayAuthInfo struct{ credentials.CommonAuthInfo }

func (gatewayAuthInfo) AuthType() string { return "in-process" }

// ServerHandshake implements credentials.TransportCredentials.
func (c serverCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if _, ok := conn.(gatewayConn); ok {
		return conn, gatewayAuthInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
	}
	return c.TransportCredentials.ServerHandshake(conn)
}

// Clone implements credentials.TransportCredentials.
func (c serverCredentials) Clone() credentials.TransportCredentials {
	return serverCredentials{c.TransportCredentials.Clone()}
}

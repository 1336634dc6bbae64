package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// TestToStatusEdges covers the orderings the end-to-end tests cannot reach
// reliably.
func TestToStatusEdges(t *testing.T) {
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	unavailable := fmt.Errorf("load: %w: %w", application.ErrUnavailable, errors.New("conn closed"))
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want codes.Code
	}{
		{"the request's own cancellation wins over a dependency error", expired, unavailable, codes.Canceled},
		{"a dependency error on a live request", context.Background(), unavailable, codes.Unavailable},
		{"a domain answer stands even when the request expired", expired, order.ErrNotFound, codes.NotFound},
		{"a status passes through", context.Background(), status.Error(codes.Unauthenticated, "who?"), codes.Unauthenticated},
		{"anything else is internal", context.Background(), errors.New("boom"), codes.Internal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := toStatus(tc.ctx, tc.err, "").Code(); got != tc.want {
				t.Errorf("code = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVersionMismatchWithoutCurrentVersion(t *testing.T) {
	err := fmt.Errorf("append: %w", &order.ConcurrencyError{OrderID: order.ID(uuid.New()), ExpectedVersion: 3})
	st := toStatus(context.Background(), err, "")
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if _, has := info.GetMetadata()["current_version"]; has || info.GetMetadata()["expected_version"] != "3" {
				t.Errorf("metadata = %v; an unknown current version must be left out", info.GetMetadata())
			}
			return
		}
	}
	t.Errorf("no ErrorInfo in %v", st.Details())
}

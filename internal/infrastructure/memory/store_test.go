package memory_test

import (
	"testing"

	"github.com/acme/order-service/internal/application/porttest"
	"github.com/acme/order-service/internal/infrastructure/memory"
)

func TestContract(t *testing.T) {
	porttest.Run(t, func(*testing.T) porttest.Ports {
		s := memory.New()
		return porttest.Ports{Store: s, Read: s, Requests: s}
	})
}

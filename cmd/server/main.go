// Command server runs the order service: `go run cmd/server/main.go` serves
// gRPC (:9000) and REST (:8080); `go run ./cmd/server migrate` only migrates
// the PostgreSQL schema. Configuration comes from the environment (README).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/server"
)

func main() {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "order-service: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	logger := server.NewLogger(os.Stderr, cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	run := server.Run
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "migrate":
			run = server.Migrate
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [migrate]\n", os.Args[0])
			os.Exit(2)
		}
	}
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("order service failed", "error", err)
		stop()
		os.Exit(1)
	}
}

// Command server runs the order service: `go run cmd/server/main.go` serves
// gRPC (:9000) and REST (:8080); `go run ./cmd/server migrate` only migrates
// the PostgreSQL schema. Configuration comes from the environment (README).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// subcommand is what one command line asks for: the configuration it reads
// and validates, and what it runs.
type subcommand struct {
	load func(getenv func(string) string) (config.Config, error)
	run  func(ctx context.Context, cfg config.Config, logger *slog.Logger) error
}

// lookup finds a subcommand by name; "" is serving.
func lookup(name string) (subcommand, bool) {
	switch name {
	case "":
		return subcommand{load: config.Load, run: server.Run}, true
	case "migrate":
		return subcommand{load: config.LoadMigrate, run: server.Migrate}, true
	}
	return subcommand{}, false
}

// run is main without the process: it returns the exit code (2 for usage
// and configuration errors, 1 for a failed run).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	name := ""
	if len(args) > 1 {
		name = args[1]
	}
	cmd, ok := lookup(name)
	if !ok || len(args) > 2 {
		fmt.Fprintf(stderr, "usage: %s [migrate]\n", args[0])
		return 2
	}
	cfg, err := cmd.load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "order-service: invalid configuration:\n%v\n", err)
		return 2
	}
	logger := server.NewLogger(stderr, cfg)
	if err := cmd.run(ctx, cfg, logger); err != nil {
		logger.Error("order service failed", "error", err)
		return 1
	}
	return 0
}

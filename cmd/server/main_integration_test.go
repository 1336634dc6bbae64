//go:build integration

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestMigrateNeedsOnlyTheDatabase: with DATABASE_URL and no authentication
// settings (which serving refuses), migrate runs and succeeds.
func TestMigrateNeedsOnlyTheDatabase(t *testing.T) {
	vars := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t)}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"server", "migrate"}, env(vars), &stderr); code != 0 {
		t.Fatalf("migrate exited %d:\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"server"}, env(vars), &stderr); code != 2 || !strings.Contains(stderr.String(), "AUTH_MODE") {
		t.Fatalf("serving without authentication exited %d:\n%s", code, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"server", "nonsense"}, {"server", "migrate", "extra"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, env(nil), &stderr); code != 2 || !strings.Contains(stderr.String(), "usage:") {
			t.Errorf("%v: exit %d, %q", args, code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"server", "migrate"}, env(nil), &stderr); code != 2 || !strings.Contains(stderr.String(), "DATABASE_URL") {
		t.Errorf("migrate without DATABASE_URL: exit %d, %q", code, stderr.String())
	}
}

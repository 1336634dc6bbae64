package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCluster is a private PostgreSQL cluster: its own data directory, port
// and socket directory. The machine's shared server is never touched — this
// one may be stopped with -m immediate at will.
type pgCluster struct {
	bin  string // directory of initdb and pg_ctl
	dir  string // data directory, owned by the server's OS user
	port int
	// asUser runs the server as this OS user (PostgreSQL refuses to run as
	// root); empty when faultcheck is not root.
	asUser string
}

// findPGBin returns the directory holding initdb and pg_ctl.
func findPGBin() (string, error) {
	// Debian's layout, newest major version first; PG_BINDIR overrides it.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(pgMajor(b), pgMajor(a)) })
	if d := os.Getenv("PG_BINDIR"); d != "" {
		dirs = []string{d}
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("initdb/pg_ctl not found in %v or PATH (set PG_BINDIR)", dirs)
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// newPGCluster runs initdb into dir (created here) and picks a free port.
func newPGCluster(ctx context.Context, dir string) (*pgCluster, error) {
	bin, err := findPGBin()
	if err != nil {
		return nil, err
	}
	c := &pgCluster{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, errors.New("running as root needs runuser to start PostgreSQL as the postgres user")
		}
		c.asUser = "postgres"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if c.asUser != "" {
		if err := chownTo(dir, c.asUser); err != nil {
			return nil, err
		}
	}
	if c.port, err = freePort(); err != nil {
		return nil, err
	}
	out, err := c.run(ctx, "initdb", "-D", dir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	if err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return c, nil
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("look up OS user %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", dir, name, err)
	}
	return nil
}

func (c *pgCluster) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, tool)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

// Start starts the server and waits (pg_ctl -w) until it accepts
// connections: after an immediate stop that includes crash recovery.
func (c *pgCluster) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on", c.port, c.dir)
	out, err := c.run(ctx, "pg_ctl", "-D", c.dir, "-o", opts, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "120", "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, c.logTail())
	}
	return nil
}

// StopImmediate is the outage: every backend is killed at once, without a
// checkpoint, as in a crash of the server processes.
func (c *pgCluster) StopImmediate(ctx context.Context) error {
	out, err := c.run(ctx, "pg_ctl", "-D", c.dir, "-m", "immediate", "-w", "-t", "60", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %w\n%s", err, out)
	}
	return nil
}

// Running reports whether a postmaster runs on the data directory.
func (c *pgCluster) Running() bool {
	_, err := os.Stat(filepath.Join(c.dir, "postmaster.pid"))
	return err == nil
}

// Destroy stops the cluster (if it runs) and removes its directory,
// keeping the server log next to it as postgres.log.
func (c *pgCluster) Destroy() {
	if c.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = c.StopImmediate(ctx)
		cancel()
	}
	if b, err := os.ReadFile(filepath.Join(c.dir, "server.log")); err == nil {
		_ = os.WriteFile(filepath.Join(filepath.Dir(c.dir), "postgres.log"), b, 0o644)
	}
	_ = os.RemoveAll(c.dir)
}

// URL is the connection URL of a database on the cluster.
func (c *pgCluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// CreateDatabase makes an empty database for one scenario.
func (c *pgCluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0")
	return err
}

func (c *pgCluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return ""
	}
	s := string(b)
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}

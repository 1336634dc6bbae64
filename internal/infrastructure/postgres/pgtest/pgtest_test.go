package pgtest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestWithDatabase(t *testing.T) {
	tests := []struct {
		admin, want string
	}{
		{
			admin: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
			want:  "postgres://postgres@127.0.0.1:5432/ordertest_x?sslmode=disable",
		},
		{
			admin: "postgresql://u:p%40ss@db:6543",
			want:  "postgresql://u:p%40ss@db:6543/ordertest_x",
		},
		{
			admin: "host=127.0.0.1 user=postgres dbname=postgres",
			want:  "host=127.0.0.1 user=postgres dbname=postgres dbname=ordertest_x",
		},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.admin, "ordertest_x")
		if err != nil {
			t.Errorf("withDatabase(%q): %v", tt.admin, err)
			continue
		}
		if got != tt.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tt.admin, got, tt.want)
		}
	}
}

func TestRedactHidesPassword(t *testing.T) {
	for _, admin := range []string{
		"postgres://u:secret@db/postgres",
		"host=db user=u password=secret",
	} {
		if got := redact(admin); strings.Contains(got, "secret") {
			t.Errorf("redact(%q) = %q, leaks the password", admin, got)
		}
	}
}

func TestRandomNamesDiffer(t *testing.T) {
	a, errA := randomName()
	b, errB := randomName()
	if errA != nil || errB != nil {
		t.Fatalf("randomName: %v, %v", errA, errB)
	}
	if a == b || !strings.HasPrefix(a, databasePrefix) || len(a) > 63 {
		t.Fatalf("randomName gave %q and %q", a, b)
	}
}

// fatalRecorder stands in for a test so NewDatabase's failure can be observed;
// like the real Fatalf it ends the calling goroutine.
type fatalRecorder struct {
	testing.TB
	message string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.message = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// An unreachable server must fail the test and say which variable to fix,
// never skip it.
func TestNewDatabaseFailsLoudlyWhenServerIsUnreachable(t *testing.T) {
	t.Setenv(EnvAdminURL, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5")
	recorder := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewDatabase(recorder)
		t.Error("NewDatabase returned instead of failing the test")
	}()
	<-done
	if !strings.Contains(recorder.message, EnvAdminURL) {
		t.Fatalf("failure message %q does not name %s", recorder.message, EnvAdminURL)
	}
}

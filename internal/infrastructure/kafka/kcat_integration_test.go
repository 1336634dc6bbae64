//go:build integration

package kafka_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/order-service/internal/infrastructure/kafka"
	"github.com/acme/order-service/internal/infrastructure/kafka/kafkatest"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// kcatCheck is the script under test, relative to this package.
var kcatCheck = filepath.Join("..", "..", "..", "scripts", "kcat-check.sh")

// exitKcatMissing is the script's status when it cannot install kcat.
const exitKcatMissing = 3

// runKcatCheck runs the script and returns its exit status and output.
func runKcatCheck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a first run may install packages
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", append([]string{kcatCheck}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("run %s: %v\n%s", kcatCheck, err, out)
	return -1, ""
}

func TestKcatReadsPublishedEvents(t *testing.T) {
	cluster := kafkatest.Start(t, 3, kafka.DefaultTopic, "not-cloudevents")
	broker := cluster.Brokers()[0]
	client := kafkatest.NewClient(t, cluster.Brokers())
	events := []outbox.Event{testEvent(1, 1, `{"order_id":"a"}`), testEvent(2, 2, `{"order_id":"a"}`), testEvent(3, 3, `{}`)}
	if err := kafka.NewPublisher(client, kafka.PublisherConfig{}).Publish(t.Context(), events); err != nil {
		t.Fatal(err)
	}

	code, out := runKcatCheck(t, broker, kafka.DefaultTopic, "3")
	if code == exitKcatMissing {
		t.Skipf("!!! SKIPPED: kcat could not be installed, so interoperability with librdkafka is NOT proven !!!\n%s", out)
	}
	if code != 0 || !strings.Contains(out, "ok: 3 records") {
		t.Fatalf("kcat-check on published events: exit %d\n%s", code, out)
	}

	// The check must be able to fail: a bare record, and too few records.
	bare := &kgo.Record{Topic: "not-cloudevents", Key: []byte("k"), Value: []byte("not json")}
	if err := client.ProduceSync(t.Context(), bare).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if code, out := runKcatCheck(t, broker, "not-cloudevents"); code != 1 || !strings.Contains(out, "value is not a JSON object") ||
		!strings.Contains(out, "no ce_id") {
		t.Fatalf("kcat-check on a bare record: exit %d, want 1 naming the faults\n%s", code, out)
	}
	if code, out := runKcatCheck(t, broker, kafka.DefaultTopic, "4"); code != 1 {
		t.Fatalf("kcat-check wanting more records than there are: exit %d, want 1\n%s", code, out)
	}
}

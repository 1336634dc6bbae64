package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// CreateTopicSetting names the setting that lets the service create its
// topic; EnsureTopic's error points operators at it.
const CreateTopicSetting = "KAFKA_CREATE_TOPIC"

// ErrTopicMissing is EnsureTopic's error when the broker answered that the
// topic does not exist and creating it is off: a misconfiguration, not an
// outage.
var ErrTopicMissing = errors.New("kafka topic does not exist")

// EnsureTopic checks that the topic exists and, when create is true,
// creates it with the given partitions and replication factor (-1 for the
// broker's defaults) if it does not. With create false a missing topic is an
// error naming the topic and the setting, so a typo in the topic name fails
// at start-up instead of silently piling up a backlog.
func EnsureTopic(ctx context.Context, admin *kadm.Client, topic string, partitions int32, replication int16, create bool) error {
	exists, err := topicExists(ctx, admin, topic)
	if err != nil || exists {
		return err
	}
	if !create {
		return fmt.Errorf("%w: %q, and %s is off: create the topic or set %s=true", ErrTopicMissing, topic, CreateTopicSetting, CreateTopicSetting)
	}
	_, err = admin.CreateTopic(ctx, partitions, replication, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) { // another instance won the race: fine
		return fmt.Errorf("create kafka topic %q (%d partitions, replication %d): %w", topic, partitions, replication, err)
	}
	return nil
}

func topicExists(ctx context.Context, admin *kadm.Client, topic string) (bool, error) {
	topics, err := admin.ListTopics(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("look up kafka topic %q: %w", topic, err)
	}
	detail, ok := topics[topic]
	switch {
	case !ok || errors.Is(detail.Err, kerr.UnknownTopicOrPartition):
		return false, nil
	case detail.Err != nil:
		return false, fmt.Errorf("look up kafka topic %q: %w", topic, detail.Err)
	}
	return true, nil
}

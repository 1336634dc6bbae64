package postgres

// QueuedCommits reports how many Appends wait for a flusher: tests use it to
// know that the commits they started are queued behind a blocked batch.
func (s *OrderStore) QueuedCommits() int {
	if s.group == nil {
		return 0
	}
	return s.group.queue.len()
}

// QueuedReads reports how many GetOrder and FindRequest calls wait for a
// flusher.
func (s *OrderStore) QueuedReads() int {
	if s.reads == nil {
		return 0
	}
	return s.reads.orders.len() + s.reads.requests.len()
}

package order

// RehydrateFrom rebuilds an order from a state it had at some version (a
// snapshot) and the events after it, which must continue that version
// without a gap. The events pass the same checks as in Rehydrate; the state
// itself is trusted as far as its identity and version go: whoever stored it
// produced it from a checked history.
func RehydrateFrom(state State, after []Event) (*Order, error) {
	switch {
	case state.ID.IsZero():
		return nil, &HistoryError{OrderID: state.ID, Version: state.Version, Problem: "snapshot without an order id"}
	case state.Version < 1:
		return nil, &HistoryError{OrderID: state.ID, Version: state.Version, Problem: "snapshot before the order's first event"}
	}
	o := &Order{state: state.Clone()}
	for _, e := range after {
		if err := o.apply(e); err != nil {
			return nil, err
		}
	}
	return o, nil
}

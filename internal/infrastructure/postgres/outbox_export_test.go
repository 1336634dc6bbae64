package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// AppendInTx writes a commit's statements inside tx, as Append does, but
// leaves committing to the caller: for tests that hold a transaction open.
func AppendInTx(ctx context.Context, tx pgx.Tx, c application.Commit) error {
	p, err := eventlog.Prepare(c)
	if err != nil {
		return err
	}
	for _, st := range commitStatements(p) {
		tag, err := tx.Exec(ctx, st.sql, st.args...)
		if err == nil && st.check != nil {
			err = st.check(tag)
		}
		if err != nil {
			return appendError(c, err)
		}
	}
	return nil
}

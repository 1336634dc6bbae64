package grpcapi

import (
	"context"
	"time"

	"google.golang.org/grpc"
)

// deadlineInterceptor gives every call a deadline: def when the client set
// none (so a stuck dependency cannot pin a goroutine forever), and at most
// max from now otherwise (so a client cannot ask the server to hold
// resources for an hour). context.WithTimeout keeps an earlier deadline.
func deadlineInterceptor(def, max time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		limit := max
		if _, ok := ctx.Deadline(); !ok {
			limit = def
		}
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		return handler(ctx, req)
	}
}

package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recoveryHandler turns a panic in a handler into INTERNAL so that one bad
// request cannot take the process down. It runs inside the deferred recover,
// before the stack unwinds, so debug.Stack still shows where the panic began.
func recoveryHandler(logger *slog.Logger) recovery.Option {
	return recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		logger.LogAttrs(ctx, slog.LevelError, "panic in grpc handler",
			slog.String("method", method),
			slog.String("request_id", incomingID(ctx, MetadataRequestID)),
			slog.String("panic", fmt.Sprint(p)),
			slog.String("stack", string(debug.Stack())),
		)
		return status.Error(codes.Internal, msgInternal)
	})
}

# syntax=docker/dockerfile:1
#
# The order service as a container: a static Go binary (no cgo: the
# embedded SQLite driver is pure Go) on Alpine, running as an unprivileged
# user. Alpine rather than distroless/static for one reason: busybox wget,
# which the HEALTHCHECK below and docker-compose.yml use to probe /readyz.
#
#   docker build -t order-service .
#   docker run --rm -p 9000:9000 -p 8080:8080 order-service        # embedded mode
#
# Configuration is the environment (README, docs/OPERATIONS.md).

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/order-service ./cmd/server

FROM alpine:3.22
# ca-certificates: JWKS over https, TLS to Kafka or an OTLP collector.
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 10001 orders \
 && adduser -S -D -H -u 10001 -G orders orders \
 && mkdir -p /var/lib/order-service \
 && chown orders:orders /var/lib/order-service
COPY --from=build /out/order-service /usr/local/bin/order-service
USER 10001:10001
WORKDIR /var/lib/order-service
# DATA_DIR matters only in the embedded mode (no DATABASE_URL): mount a
# volume there to keep its SQLite database and broker log.
ENV DATA_DIR=/var/lib/order-service \
    LOG_FORMAT=json
# 9000 gRPC, 8080 REST + /healthz /readyz /metrics. The admin listener
# (ADMIN_ADDR: pprof) is off unless configured, and belongs on loopback.
EXPOSE 9000 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:8080/readyz || exit 1
# `docker run … order-service migrate` runs only the PostgreSQL migrations.
ENTRYPOINT ["/usr/local/bin/order-service"]

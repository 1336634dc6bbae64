# Everyday entry points. Code generation needs only Go: buf and the protoc
# plugins are pinned in tools/go.mod and run with `go tool`.

BUF := go tool -modfile=tools/go.mod buf

.PHONY: generate check-generated breaking lint test test-unit test-integration tools third-party

## generate: regenerate gen/ and api/openapi/ from proto/
generate:
	scripts/generate.sh

## check-generated: fail if the committed generated files are stale
check-generated:
	scripts/check-generated.sh

## breaking: fail if the protos break wire or JSON compatibility with HEAD~1
breaking:
	scripts/check-breaking.sh

## lint: buf lint and format check on the protos, go vet on both modules
lint:
	$(BUF) lint
	$(BUF) format --diff --exit-code proto
	go vet ./...
	cd tools && go vet ./...

## test: all unit tests with the race detector
test:
	go test -race ./...

## test-unit: domain tests only
test-unit:
	go test ./internal/domain/...

## test-integration: everything, including tests tagged integration (needs PostgreSQL)
test-integration:
	go test -race -tags=integration ./...

## tools: download and build the pinned code generation tools
tools:
	scripts/install-tools.sh

## third-party: reprint and verify third_party/*.proto (see third_party/README.md)
third-party:
	third_party/update.sh

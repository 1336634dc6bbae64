package grpcapi_test

import (
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// TestNoBarePatternRules: a string.pattern rule tells the client only the
// regular expression it broke. Patterns belong in the named rules of
// proto/order/v1/rules.proto, whose messages say in words what is expected.
func TestNoBarePatternRules(t *testing.T) {
	files := []protoreflect.FileDescriptor{
		orderv1.File_order_v1_order_proto, orderv1.File_order_v1_resources_proto, orderv1.File_order_v1_events_proto,
	}
	checked := 0
	for _, f := range files {
		for i := range f.Messages().Len() {
			checked += checkPatterns(t, f.Messages().Get(i))
		}
	}
	if checked == 0 {
		t.Fatal("no field rules found: the check checks nothing")
	}
}

func checkPatterns(t *testing.T, md protoreflect.MessageDescriptor) int {
	t.Helper()
	checked := 0
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		rules, ok := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
		if !ok || rules == nil {
			continue
		}
		checked++
		if rules.GetString().HasPattern() {
			t.Errorf("%s has a bare string.pattern %q: use a named rule of rules.proto", fd.FullName(), rules.GetString().GetPattern())
		}
	}
	for i := range md.Messages().Len() {
		checked += checkPatterns(t, md.Messages().Get(i))
	}
	return checked
}

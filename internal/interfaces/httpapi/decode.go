package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// The gateway reports a body or query parameter it cannot decode as a bare
// INVALID_ARGUMENT whose message is protojson's or the query parser's error
// text. decodeFailure turns it into the answer every other invalid request
// gets: ErrorInfo INVALID_ARGUMENT and a BadRequest naming the field. The
// field comes from the parameter parsers' text ("parsing field \"page_size\":
// …", "type mismatch, parameter: \"order_id\", …"), or from the position protojson gives ("(line 1:73)"), looked up in
// the body as a path such as items[0].quantity, or (protojson gives no
// position for it) from the string with a lone surrogate escape; failing
// all, it is "body".

// bodyKey holds the request body in the request's context, for naming the
// field of a decoding error.
type bodyKey struct{}

func withBody(ctx context.Context, body []byte) context.Context {
	return context.WithValue(ctx, bodyKey{}, body)
}

var (
	// A query parameter, or a path parameter, that does not parse.
	paramField = regexp.MustCompile(`^(?:parsing field "([^"]+)"|type mismatch, parameter: "([^"]+)", error): `)
	// protojson's texts are not a stable API (it even varies the space after
	// "proto:" on purpose); a text that no longer matches degrades the answer
	// to naming the body, and the tests of this package notice.
	jsonPosition = regexp.MustCompile(`^proto:[ \x{00a0}](?:syntax error )?\(line (\d+):(\d+)\): `)
	protoPrefix  = regexp.MustCompile(`^proto:[ \x{00a0}]`)
)

// maxDescription bounds the violation's description: protojson quotes the
// offending value, which can be large.
const maxDescription = 200

// decodeFailure details a gateway decoding error st (an INVALID_ARGUMENT
// without details) of the request whose context is ctx.
func decodeFailure(ctx context.Context, st *status.Status) *status.Status {
	msg := st.Message()
	body, _ := ctx.Value(bodyKey{}).([]byte)
	field, description := "body", protoPrefix.ReplaceAllString(msg, "")
	if m := paramField.FindStringSubmatch(msg); m != nil {
		field, description = m[1]+m[2], msg[len(m[0]):]
	} else if m := jsonPosition.FindStringSubmatch(msg); m != nil {
		description = msg[len(m[0]):]
		line, _ := strconv.Atoi(m[1])
		column, _ := strconv.Atoi(m[2])
		offset := byteOffset(body, line, column)
		if path, ok := jsonPathOf(body, func(start int, _ []byte) bool { return offset >= 0 && start >= offset }); ok {
			field = path
		}
	} else if path, ok := jsonPathOf(body, func(_ int, token []byte) bool { return loneSurrogate(token) }); ok {
		// protojson reports these without a position
		field, description = path, "contains a \\u escape of half a UTF-16 surrogate pair"
	}
	description = truncate(description, maxDescription)
	fv := &errdetails.BadRequest_FieldViolation{Field: field, Description: description}
	detailed, err := status.New(codes.InvalidArgument, "invalid request: "+field+": "+description).WithDetails(
		&errdetails.ErrorInfo{Reason: grpcapi.ReasonInvalidArgument, Domain: grpcapi.ErrorDomain},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{fv}})
	if err != nil { // these details always marshal
		return st
	}
	return detailed
}

// byteOffset converts protojson's 1-based line and column (counted in
// runes) to an offset into body; -1 if body has no such position.
func byteOffset(body []byte, line, column int) int {
	offset := 0
	for ; line > 1; line-- {
		i := bytes.IndexByte(body[offset:], '\n')
		if i < 0 {
			return -1
		}
		offset += i + 1
	}
	for ; column > 1 && offset < len(body); column-- {
		_, size := utf8.DecodeRune(body[offset:])
		offset += size
	}
	return offset
}

// jsonFrame is an object or array being read by jsonPathAt.
type jsonFrame struct {
	array   bool
	key     string // object: the member being read
	index   int    // array: the element being read
	wantKey bool   // object: the next token is a key (or the end)
}

// jsonPathOf is the path (user_id, items[0].quantity) of the first key or
// value of body for which match holds; it gets the token's offset and its
// text (strings quoted, escapes as written; containers just the bracket).
func jsonPathOf(body []byte, match func(start int, token []byte) bool) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []jsonFrame
	end := 0
	for {
		start := end + len(body[end:]) - len(bytes.TrimLeft(body[end:], " \t\r\n,:"))
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		end = int(dec.InputOffset())
		top := len(stack) - 1
		if tok == json.Delim('}') || tok == json.Delim(']') {
			if top < 0 {
				return "", false // the decoder refuses unbalanced input; to be safe
			}
			stack = nextMember(stack[:top])
			continue
		}
		found := match(start, body[start:end])
		if top >= 0 && stack[top].wantKey {
			stack[top].key, _ = tok.(string)
			stack[top].wantKey = false
			if found {
				return jsonPath(stack), true
			}
			continue
		}
		if found {
			return jsonPath(stack), len(stack) > 0
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, jsonFrame{wantKey: true})
		case json.Delim('['):
			stack = append(stack, jsonFrame{array: true})
		default:
			stack = nextMember(stack)
		}
	}
}

// loneSurrogate reports whether a JSON string token has a \\u escape of a
// UTF-16 surrogate that is not followed by its other half.
func loneSurrogate(token []byte) bool {
	for i := 0; i+6 <= len(token); i++ {
		if token[i] != '\\' {
			continue
		}
		if token[i+1] != 'u' {
			i++ // an escaped character, perhaps a backslash
			continue
		}
		r := hex4(token[i+2 : i+6])
		if !utf16.IsSurrogate(r) {
			i += 5
			continue
		}
		if r >= 0xdc00 || i+12 > len(token) || token[i+6] != '\\' || token[i+7] != 'u' {
			return true // a low half first, or a high half alone
		}
		if low := hex4(token[i+8 : i+12]); low < 0xdc00 || low > 0xdfff {
			return true
		}
		i += 11
	}
	return false
}

// hex4 decodes four hex digits; -1 if they are not.
func hex4(b []byte) rune {
	n, err := strconv.ParseUint(string(b), 16, 16)
	if err != nil {
		return -1
	}
	return rune(n)
}

// nextMember moves the innermost container past the value just read.
func nextMember(stack []jsonFrame) []jsonFrame {
	if len(stack) > 0 {
		top := &stack[len(stack)-1]
		top.index++
		top.wantKey = !top.array
	}
	return stack
}

func jsonPath(stack []jsonFrame) string {
	var b strings.Builder
	for _, f := range stack {
		switch {
		case f.array:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case b.Len() > 0:
			b.WriteString("." + f.key)
		default:
			b.WriteString(f.key)
		}
	}
	return b.String()
}

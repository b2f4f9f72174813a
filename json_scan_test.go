package trustcaptcha

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzScanJSON checks the hand-written scanner against encoding/json: the
// same texts are valid, and the top-level members it finds are the ones
// encoding/json decodes.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":1}`, `{"tc":"x","tc":"y"}`, `{"a":{"tc":"n"},"tc":"t"}`, `"s"`, `-0.5e+10`, `01`, `1.`, `.5`,
		`{"a":"\u00e9\n\"\\"}`, `{"a":"\x01"}`, `{"a":"\ud800"}`, `[1,]`, `{"a":1,}`, `tru`, `nul`, ` {"tc" : "v" } `,
		`{"t\u0063":"v"}`, "\xef\xbb\xbf{}", `{"a":[{"b":[{"c":"}]"}]}],"tc":"v"}`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		`{"a":"0123456789abcdef\"0123456789abcdef"}`, "{\"a\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		isObject, found, err := scanJSON(in, "tc")
		if valid := json.Valid(in); valid != (err == nil) {
			t.Fatalf("scanner says valid=%v, encoding/json says %v", err == nil, valid)
		}
		if err != nil {
			return
		}
		if want := bytes.HasPrefix(bytes.TrimLeft(in, " \t\r\n"), []byte("{")); isObject != want {
			t.Fatalf("isObject %v, want %v", isObject, want)
		}
		if !isObject {
			return
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(in, &top); err != nil {
			t.Fatalf("valid object does not decode: %v", err)
		}
		want, ok := top["tc"]
		if !ok {
			if len(found) != 0 {
				t.Fatalf("found %d members that encoding/json does not see", len(found))
			}
			return
		}
		if len(found) == 0 || !bytes.Equal(found[len(found)-1].raw, want) {
			t.Fatalf("found %d members, encoding/json has %q", len(found), want)
		}
	})
}

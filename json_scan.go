package trustcaptcha

import (
	"encoding/binary"
	"errors"
)

// maxJSONDepth matches encoding/json's nesting limit.
const maxJSONDepth = 10000

var errJSONSyntax = errors.New("invalid JSON")

// topMember is one member of the top-level object: its raw key (a JSON
// string literal), its raw value and whether that value is a string.
type topMember struct {
	key      []byte
	raw      []byte
	isString bool
}

// jsonScanner validates a JSON text in one pass (the grammar of RFC 8259,
// as strict as encoding/json.Valid) and collects the top-level members named
// field. Strings, where bodies spend most of their bytes, are skipped eight
// bytes at a time.
type jsonScanner struct {
	b     []byte
	i     int
	field string // collect the top-level members with this key
	all   bool   // collect every top-level member
	found []topMember
}

// scanJSON reports whether b is one valid JSON value, whether that value is
// an object, and the top-level members named field.
func scanJSON(b []byte, field string) (isObject bool, found []topMember, err error) {
	return scan(jsonScanner{b: b, field: field})
}

// scanMembers is scanJSON collecting every top-level member.
func scanMembers(b []byte) (isObject bool, found []topMember, err error) {
	return scan(jsonScanner{b: b, all: true, found: make([]topMember, 0, 24)})
}

func scan(s jsonScanner) (isObject bool, found []topMember, err error) {
	b := s.b
	s.space()
	isObject = s.i < len(b) && b[s.i] == '{'
	if err := s.value(0); err != nil {
		return false, nil, err
	}
	s.space()
	if s.i != len(b) {
		return false, nil, errJSONSyntax
	}
	return isObject, s.found, nil
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value at depth (0 is the top level). It recurses for
// containers; depth is bounded by maxJSONDepth.
func (s *jsonScanner) value(depth int) error {
	if s.i >= len(s.b) {
		return errJSONSyntax
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return errJSONSyntax
}

func (s *jsonScanner) object(depth int) error {
	if depth > maxJSONDepth {
		return errJSONSyntax
	}
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return errJSONSyntax
		}
		kstart := s.i
		if err := s.str(); err != nil {
			return err
		}
		key := s.b[kstart:s.i]
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errJSONSyntax
		}
		s.i++
		s.space()
		vstart := s.i
		if err := s.value(depth); err != nil {
			return err
		}
		if depth == 1 && (s.all || jsonStringEquals(key, s.field)) {
			s.found = append(s.found, topMember{key: key, raw: s.b[vstart:s.i], isString: s.b[vstart] == '"'})
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

func (s *jsonScanner) array(depth int) error {
	if depth > maxJSONDepth {
		return errJSONSyntax
	}
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		if err := s.value(depth); err != nil {
			return err
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// next consumes what follows a member or an element: a comma (more comes)
// or the container's closing byte (done).
func (s *jsonScanner) next(closing byte) (done bool, err error) {
	s.space()
	if s.i >= len(s.b) {
		return false, errJSONSyntax
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.space()
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, errJSONSyntax
}

const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// special reports whether any of the eight bytes in x is a quote, a
// backslash or a control character (< 0x20).
func special(x uint64) bool {
	q := x ^ (swarOnes * '"')
	bs := x ^ (swarOnes * '\\')
	return ((q-swarOnes)&^q|(bs-swarOnes)&^bs|(x-swarOnes*0x20)&^x)&swarHigh != 0
}

// str scans a string starting at the opening quote.
func (s *jsonScanner) str() error {
	b, i := s.b, s.i+1
	for {
		for i+8 <= len(b) && !special(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			return errJSONSyntax
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return nil
		case c < 0x20:
			return errJSONSyntax
		case c == '\\':
			if i+1 >= len(b) {
				return errJSONSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return errJSONSyntax
				}
				for _, h := range b[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return errJSONSyntax
					}
				}
				i += 6
			default:
				return errJSONSyntax
			}
		default:
			i++
		}
	}
}

func (s *jsonScanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return errJSONSyntax
	}
	s.i += len(word)
	return nil
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() error {
	b, i := s.b, s.i
	digits := func() bool {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return errJSONSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return errJSONSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return errJSONSyntax
		}
	}
	s.i = i
	return nil
}

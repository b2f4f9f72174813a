package uuid

import "testing"

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b": true,
		"6F1A7C2E-3B4D-4E5F-8A9B-0C1D2E3F4A5B": true,
		"00000000-0000-0000-0000-000000000000": true,
		"6f1a7c2e3b4d4e5f8a9b0c1d2e3f4a5b":     false, // no dashes
		"6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5":  false, // one short
		"6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5g": false, // not hex
		"6f1a7c2e-3b4d-4e5f-8a9b+0c1d2e3f4a5b": false,
		"+f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b": false,
		"":                                     false,
		"ak_secret":                            false,
	} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}

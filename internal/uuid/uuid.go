// Package uuid is the one UUID check of the repository: the verification
// IDs of tokens, the site key of the widget, and the results of the fake API
// all use it.
package uuid

import "encoding/hex"

// Valid reports whether s is a UUID in its 8-4-4-4-12 hex form, in either
// letter case.
func Valid(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	_, err := hex.DecodeString(s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
	return err == nil
}

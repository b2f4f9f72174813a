package trustcaptcha

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Ask only when it matters: step-up.
//
// A StepUp gives each client a few requests without a CAPTCHA in each
// window of time, and asks for one beyond them: a rate limit that answers
// with a CAPTCHA instead of a 429. It counts and decides in one step, the
// Counter's Increment, so requests sent in parallel cannot pass together: a
// burst of 1,000 wrong passwords gets After of them through without the
// CAPTCHA, not 1,000.

// StepUpOptions configure NewStepUp. After and Per are required.
type StepUpOptions struct {
	// After is how many requests without a CAPTCHA one client may send in
	// each window of Per. It must be at least 1.
	After int

	// Per is the length of the window. It must be positive. Windows are
	// fixed: they start at multiples of Per since the Unix epoch, so a
	// client gets at most 2 x After requests without the CAPTCHA in any span
	// of Per (After at the end of one window, After at the start of the
	// next).
	Per time.Duration

	// SiteWide, when positive, is how many requests without a CAPTCHA all
	// clients together may send in each window, before every client must
	// solve it: the answer to an attack spread over many addresses. Zero
	// turns it off; a negative value panics.
	SiteWide int

	// Name keeps the counts of StepUps that share a Counter apart, such as
	// "login" and "reset". Empty is fine for a single StepUp.
	Name string

	// Counter keeps the counts. Nil means a MemoryStore of this StepUp's
	// own; a redisstore.Store shares the counts across a fleet.
	Counter Counter

	// TrustedProxies lists the proxies, as addresses or CIDR prefixes, whose
	// X-Forwarded-For header names the client, as Options.TrustedProxies
	// does. The two lists should agree, or the proxy itself is counted as
	// the client. Nil means none. An invalid entry panics.
	TrustedProxies []string
}

// StepUp decides when a request must carry a solved CAPTCHA: once its
// client, its account or the whole site has sent too many without one. Use
// its Required as Options.Required, ShowWidget when rendering the page, and
// RequiredFor in the handler, which knows the account. Make one with
// NewStepUp; it is safe for concurrent use.
//
// An IPv6 client is counted by its /64 prefix, as one host often holds a
// whole /64; an IPv4 client by its address. A request whose address cannot
// be read is counted under one key shared by all such requests. Addresses
// and account names are stored only as SHA-256 hashes, so a dump of the
// Counter shows none of them, though someone who guesses one can still test
// the guess.
type StepUp struct {
	after, siteWide int64
	per             time.Duration
	counter         Counter
	proxies         []netip.Prefix
	prefix          string // "stepup:" + Name + ":"
}

// NewStepUp returns a StepUp for o. A wiring mistake (After below 1, Per not
// positive, a negative SiteWide, an invalid TrustedProxies entry) panics,
// naming the field.
func NewStepUp(o StepUpOptions) *StepUp {
	switch {
	case o.After < 1:
		panic(fmt.Sprintf("trustcaptcha: StepUpOptions.After %d must be at least 1", o.After))
	case o.Per <= 0:
		panic(fmt.Sprintf("trustcaptcha: StepUpOptions.Per %v must be positive", o.Per))
	case o.SiteWide < 0:
		panic(fmt.Sprintf("trustcaptcha: StepUpOptions.SiteWide %d is negative", o.SiteWide))
	}
	switch {
	case o.Counter == nil:
		o.Counter = NewMemoryStore()
	case isNil(o.Counter):
		panic("trustcaptcha: StepUpOptions.Counter holds a nil pointer; leave it nil for a MemoryStore")
	}
	return &StepUp{after: int64(o.After), siteWide: int64(o.SiteWide), per: o.Per,
		counter: o.Counter, proxies: parseProxies("StepUpOptions.TrustedProxies", o.TrustedProxies),
		prefix: "stepup:" + o.Name + ":"}
}

// Required counts r as one of its client's requests without a CAPTCHA, and
// one of the site's, and reports whether it must carry one: when its client
// sent more than After in the current window, this one included, or the
// site more than SiteWide, or the Counter failed (it fails closed: it asks).
// A request its client's count already refuses does not count for the site,
// so one address cannot spend the site-wide budget for everyone.
//
// It is made for Options.Required, which asks it only for a request that
// carries no token.
func (s *StepUp) Required(r *http.Request) bool {
	ctx := r.Context()
	if s.over(ctx, s.clientKey(r), s.after) {
		return true
	}
	return s.siteWide > 0 && s.over(ctx, s.prefix+"site", s.siteWide)
}

// ShowWidget reports whether the client's next request without a CAPTCHA
// would be refused, so the page should render the widget: its client
// already sent After in the current window, or the site reached SiteWide,
// or the Counter failed. It counts nothing.
func (s *StepUp) ShowWidget(r *http.Request) bool {
	ctx := r.Context()
	if s.reached(ctx, s.clientKey(r), s.after) {
		return true
	}
	return s.siteWide > 0 && s.reached(ctx, s.prefix+"site", s.siteWide)
}

// RequiredFor is for the handler, which knows the account: call it for a
// request that arrived without a verified result (ResultFromContext false).
// It counts r as one of subject's requests without a CAPTCHA and reports
// whether it must carry one: when subject was tried more than After times
// in the current window, or the Counter failed. A login attacked from many
// addresses then asks for the CAPTCHA for that account.
//
// It counts the subject only, not the address or the site. The subject is
// trimmed and lower-cased; one that is empty counts nothing and reports
// false.
func (s *StepUp) RequiredFor(r *http.Request, subject string) bool {
	subject = strings.ToLower(strings.TrimSpace(subject))
	if subject == "" {
		return false
	}
	return s.over(r.Context(), s.key("subject", subject), s.after)
}

// over adds one to key's count and reports whether it went past limit, or
// the Counter failed.
func (s *StepUp) over(ctx context.Context, key string, limit int64) bool {
	n, err := s.counter.Increment(ctx, key, s.per)
	return err != nil || n > limit
}

// reached reports whether key's count is at limit already, or the Counter
// failed.
func (s *StepUp) reached(ctx context.Context, key string, limit int64) bool {
	n, err := s.counter.Count(ctx, key, s.per)
	return err != nil || n >= limit
}

// clientKey is the key that counts r's client: its address, an IPv6
// address by its /64.
func (s *StepUp) clientKey(r *http.Request) string {
	ip, ok := clientIP(r, s.proxies)
	switch {
	case !ok:
		return s.key("addr", "unreadable")
	case ip.Is6():
		return s.key("addr", netip.PrefixFrom(ip, 64).Masked().String())
	}
	return s.key("addr", ip.String())
}

// key is the Counter key of value, of one kind: the prefix, the kind and the
// hash of value, so the store holds no address or account name.
func (s *StepUp) key(kind, value string) string {
	sum := sha256.Sum256([]byte(value))
	return s.prefix + kind + ":" + hex.EncodeToString(sum[:])
}

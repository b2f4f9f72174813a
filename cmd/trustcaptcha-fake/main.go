// Command trustcaptcha-fake serves a fake TrustCaptcha API (package
// trustcaptchatest) for the end-to-end tests of any stack: the result
// protocol the server SDKs speak, the two endpoints the browser widget calls
// (with CORS, so the real widget solves against it), the verification IDs the
// official SDKs test with, and control endpoints that mint tokens and put the
// API down or back up. No account and no network are needed.
//
//	go run github.com/captchakit/trustcaptcha/cmd/trustcaptcha-fake@latest
//	go install github.com/captchakit/trustcaptcha/cmd/trustcaptcha-fake@latest
//
// Point the widget's api-url and the server's API host at the URL it prints.
// Flags:
//
//	-addr             where to listen (default 127.0.0.1:8787; another host prints a warning)
//	-api-key          the secret key the server must send (default trustcaptchatest.DefaultAPIKey)
//	-site-key         the site key the widget must send (default trustcaptchatest.DefaultSiteKey)
//	-difficulty       the widget's proof-of-work difficulty in leading zero bits (default 8)
//	-retrieval-limit  answer 429 once a result was fetched this often (default 0: no limit)
//
// Control endpoints (JSON in and out):
//
//	POST /_fake/tokens {"kind":"human"|"bot"|"failed"|"unreachable"|"client-failover"} → 201 {"token":"…"}
//	POST /_fake/down {"status":503} → 204: every result request answers that status
//	POST /_fake/up → 204: normal answers again
//
// A control request with a body must send it as application/json (415
// otherwise). One whose Origin header is present and not a loopback origin
// (http://127.0.0.1:*, http://localhost:*, http://[::1]:*) gets 403 and
// changes nothing, so a web page the developer visits while the fake runs
// cannot steer it; curl and test suites send no Origin. The widget's
// endpoints answer any origin, as the widget runs on the developer's page.
//
// It logs each request on one line and exits 0 on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "trustcaptcha-fake:", err)
		os.Exit(2)
	}
}

// run serves the fake API until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trustcaptcha-fake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8787", "address to listen on; keep it on loopback: anyone who reaches it can mint tokens that pass")
	apiKey := fs.String("api-key", trustcaptchatest.DefaultAPIKey, "the secret API key the server must send")
	siteKey := fs.String("site-key", trustcaptchatest.DefaultSiteKey, "the site key (a UUID) the widget must send")
	difficulty := fs.Int("difficulty", trustcaptchatest.DefaultDifficulty, "the widget's proof-of-work difficulty, in leading zero bits")
	limit := fs.Int("retrieval-limit", 0, "answer 429 once a result was fetched this often (0: no limit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; -h lists them)", fs.Arg(0))
	}
	if *difficulty < 0 || *difficulty > 32 || *limit < 0 {
		return errors.New("-difficulty must be within 0..32 and -retrieval-limit not negative")
	}
	if host, _, _ := net.SplitHostPort(*addr); !isLoopback(host) {
		fmt.Fprintf(stderr, "trustcaptcha-fake: WARNING: -addr %s is not on loopback: anyone who can reach it "+
			"can mint tokens that pass; never point a production server at it\n", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	api := trustcaptchatest.NewServer(trustcaptchatest.WithListener(ln), trustcaptchatest.WithLog(stdout),
		trustcaptchatest.WithAPIKey(*apiKey), trustcaptchatest.WithSiteKey(*siteKey),
		trustcaptchatest.WithDifficulty(*difficulty), trustcaptchatest.WithRetrievalLimit(*limit))
	defer api.Close()

	u := clientURL(ln.Addr())
	fmt.Fprintf(stdout, `trustcaptcha-fake: a fake TrustCaptcha API on %[1]s
  API key (server):   %[2]s
  site key (widget):  %[3]s
  the widget:         <trustcaptcha-component sitekey="%[3]s" api-url="%[1]s">
  the server:         API host %[1]s (Go: trustcaptcha.WithAPIHost("%[1]s"); Python: api_host=; Java: .apiHost())
  mint a token:       curl -s %[1]s/_fake/tokens -H 'Content-Type: application/json' -d '{"kind":"human"}'
                      (kinds: human, bot, failed, unreachable, client-failover)
  put the API down:   curl -s %[1]s/_fake/down -H 'Content-Type: application/json' -d '{"status":503}'
  back up:            curl -s -X POST %[1]s/_fake/up
  control requests:   JSON bodies only, and no Origin header or a loopback one: other web pages get 403
  fixed tokens:       the SDKs' test IDs 00000000-0000-0000-0000-00000000000{0,1,2,3,4} answer a result, 404, 423, 410, 429
  client failover:    a client-failover token's fetch answers 412 with ?clientFailover=true, 404 without
Stop it with Ctrl+C.
`, u, *apiKey, *siteKey)
	<-ctx.Done()
	fmt.Fprintln(stdout, "trustcaptcha-fake: stopped")
	return nil
}

// clientURL is the URL a client on this machine opens to reach addr. An
// address that listens on every interface (0.0.0.0 or ::) is reached on
// loopback: "http://[::]:8787" is no address a browser or curl can open.
func clientURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

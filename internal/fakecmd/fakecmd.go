// Package fakecmd builds and starts the command trustcaptcha-fake as a
// process for this repository's tests, as a team's end-to-end suite would:
// on a free port of 127.0.0.1, stopped with SIGTERM when the test ends.
package fakecmd

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Fake is a running trustcaptcha-fake.
type Fake struct {
	URL string // such as http://127.0.0.1:41234; set before Start returns

	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	mu     sync.Mutex
	out    bytes.Buffer  // what it printed on stdout
	errOut bytes.Buffer  // and on stderr
	line   chan struct{} // closed, and replaced, at each line of stdout
}

var urlLine = regexp.MustCompile(`a fake TrustCaptcha API on (http://\S+)`)

// Build builds the command into a temporary folder and returns its path.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trustcaptcha-fake")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/captchakit/trustcaptcha/cmd/trustcaptcha-fake").CombinedOutput()
	if err != nil {
		t.Fatalf("building trustcaptcha-fake: %v\n%s", err, out)
	}
	return bin
}

// Start starts the command at bin with args and -addr 127.0.0.1:0, and
// returns once it printed its start-up text (its URL first). The process gets SIGTERM when the test
// ends, and the test fails if it does not exit with status 0 within 5 s.
func Start(t testing.TB, bin string, args ...string) *Fake {
	t.Helper()
	f := &Fake{cmd: exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...),
		exited: make(chan struct{}), line: make(chan struct{})}
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f.cmd.Stderr = &lockedWriter{mu: &f.mu, w: &f.errOut}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{}) // closed after the last line of its start-up text
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			f.mu.Lock()
			f.out.WriteString(line + "\n")
			if m := urlLine.FindStringSubmatch(line); m != nil && f.URL == "" {
				f.URL = m[1]
			}
			close(f.line)
			f.line = make(chan struct{})
			f.mu.Unlock()
			if strings.HasPrefix(line, "Stop it with") {
				close(ready)
			}
		}
		_ = f.cmd.Wait() // after the pipe is drained, as exec requires
		close(f.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-f.exited: // the test stopped it
		default:
			if took, code := f.Stop(syscall.SIGTERM); code != 0 {
				t.Errorf("trustcaptcha-fake exited with status %d %v after SIGTERM:\n%s", code, took, f.Stderr())
			}
		}
	})
	select {
	case <-ready:
	case <-f.exited:
		t.Fatalf("trustcaptcha-fake exited before it printed its URL:\n%s%s", f.Stdout(), f.Stderr())
	case <-time.After(30 * time.Second):
		t.Fatalf("trustcaptcha-fake printed no URL within 30 s:\n%s%s", f.Stdout(), f.Stderr())
	}
	return f
}

// Stop sends sig and waits up to 5 s for the process to exit. It returns
// how long that took, and the process's exit status (-1 when killed after
// the 5 s).
func (f *Fake) Stop(sig os.Signal) (took time.Duration, status int) {
	start := time.Now()
	_ = f.cmd.Process.Signal(sig)
	select {
	case <-f.exited:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.exited
		return time.Since(start), -1
	}
	return time.Since(start), f.cmd.ProcessState.ExitCode()
}

// Stdout returns what the process printed on stdout so far.
func (f *Fake) Stdout() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.String()
}

// WaitStdout waits up to timeout for the process to print substr on stdout,
// and fails the test if it does not.
func (f *Fake) WaitStdout(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		f.mu.Lock()
		found, next := strings.Contains(f.out.String(), substr), f.line
		f.mu.Unlock()
		if found {
			return
		}
		select {
		case <-next:
		case <-f.exited:
			t.Fatalf("trustcaptcha-fake exited without printing %q:\n%s", substr, f.Stdout())
		case <-deadline:
			t.Fatalf("trustcaptcha-fake did not print %q within %v:\n%s", substr, timeout, f.Stdout())
		}
	}
}

// Stderr returns what the process printed on stderr so far.
func (f *Fake) Stderr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errOut.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

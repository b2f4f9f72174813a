package trustcaptcha

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime/multipart"
	"net/http"
	"os"
)

// Reading the token out of a multipart form.
//
// The body is read to its end first, so that the next handler can read the
// same bytes from r.Body: into memory when it holds at most
// multipartInMemory bytes, and into a temporary file otherwise (at once when
// its Content-Length says it is larger). Then mime/multipart reads its parts
// until it finds the token field.
//
// The cost rule. Reading a body of n bytes and its parts may allocate at
// most 4 x n + 64 KiB, whatever the body's shape. Reading the body costs what
// holds it: about 2.5 bytes a byte in memory (io.ReadAll's growing pieces and
// its final copy), and only the buffers it passes through when it goes to a
// file. What is left, less a reserve for the rest of the request, pays for
// the parts: each part is charged partCost and each header line
// headerLineCost, a little more than mime/multipart allocates for them. A
// form whose parts cost more than that is 413, and so is one of more than
// 1,000 parts or 10,000 part header lines in all: net/http's own limits
// (CVE-2023-24536), which multipart.Reader.ReadForm applies and NextPart,
// used here, does not. TestRequestCostIsBoundedByBodySize checks the rule
// on every shape of body, on each Go release CI runs.
//
// ReadForm is not used because it cannot hold that bound: it allocates about
// a kilobyte for each part however small, and a form of 1,000 empty parts is
// only a few tens of kilobytes.
const (
	multipartInMemory = 256 << 10 // the largest multipart body read into memory
	maxParts          = 1000      // parts in one form
	maxPartHeaders    = 10000     // header lines in all parts
	costBase          = 64 << 10  // a body may cost 4 bytes a byte plus this
	costReserve       = 24 << 10  // kept for the rest of the request
	fileBuffers       = 64 << 10  // the copy into the file and the scan's buffer
	partCost          = 1 << 10   // charged per part
	headerLineCost    = 200       // charged per header line
	headerByteCost    = 48        // the most one byte of a part's header may cost
	meterRead         = 256       // the most one read hands mime/multipart
)

// memoryCost is what reading n bytes into memory with io.ReadAll allocates,
// at most.
func memoryCost(n int64) int64 { return n*5/2 + 1<<10 }

// fromMultipart spools the body, finds the token among its text fields, and
// leaves r.Body reading the spool from its start, whatever it found. release
// removes the spool's file, if there is one.
func (x *extraction) fromMultipart(r *http.Request, boundary string) (
	tok string, release func(), err error) {
	sp, err := spool(r.Body, r.ContentLength, x.maxMultipart)
	if err != nil {
		return "", func() {}, bodyError(err, x.maxMultipart)
	}
	scan := io.Reader(sp.body)
	if sp.file != nil {
		// multipartToken reads in small pieces (see meter): from a file, a
		// buffer makes them copies instead of system calls.
		scan = bufio.NewReaderSize(sp.file, 32<<10)
	}
	tok, err = x.multipartToken(scan, sp.size, 4*sp.size+costBase-costReserve-sp.cost, boundary)
	if _, serr := sp.body.Seek(0, io.SeekStart); serr != nil {
		sp.release()
		return "", func() {}, fmt.Errorf("%w: rewinding the spooled body: %v", errSpool, serr)
	}
	r.Body = io.NopCloser(sp.body)
	return tok, sp.release, err
}

// errSpool marks a failure to spool a body to disk: the server's trouble.
var errSpool = errors.New("trustcaptcha: spooling the request body to a temporary file failed")

// spooled is a body read to its end.
type spooled struct {
	body io.ReadSeeker // at its end; a *bytes.Reader or the file
	size int64
	cost int64    // what reading it allocated, at most
	file *os.File // nil when the body is in memory
}

// release removes the spool's file, if there is one.
func (s *spooled) release() {
	if s.file != nil {
		_ = s.file.Close()
		_ = os.Remove(s.file.Name())
	}
}

// spool reads src to its end, at most limit bytes (errTooLong past that):
// into memory when it turns out to hold at most multipartInMemory bytes, and
// into a temporary file otherwise, or at once when announced (its
// Content-Length, -1 if unknown) is larger.
func spool(src io.Reader, announced, limit int64) (*spooled, error) {
	var head []byte
	var err error
	if inMemory := min(multipartInMemory, limit); announced <= inMemory {
		if head, err = io.ReadAll(io.LimitReader(src, inMemory+1)); err != nil {
			return nil, err
		}
		switch n := int64(len(head)); {
		case n <= inMemory:
			return &spooled{body: bytes.NewReader(head), size: n, cost: memoryCost(n)}, nil
		case n > limit:
			return nil, errTooLong
		}
	}
	f, err := os.CreateTemp("", "trustcaptcha-body-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	sp := &spooled{body: f, file: f, cost: memoryCost(int64(len(head))) + fileBuffers}
	sp.size, err = io.Copy(f, io.LimitReader(io.MultiReader(bytes.NewReader(head), src), limit+1))
	if err == nil && sp.size > limit {
		err = errTooLong
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) { // the file failed, not the client
		err = fmt.Errorf("%w: %v", errSpool, err)
	}
	if err != nil {
		sp.release()
		return nil, err
	}
	return sp, nil
}

// meter hands its reader on in reads of at most meterRead bytes and stops
// at limit. Its small reads keep mime/multipart's buffer from reading far
// ahead, so limit bounds the bytes of the part header it is parsing.
type meter struct {
	r       io.Reader
	n       int64 // bytes handed on
	limit   int64
	stopped bool // a read hit limit
}

func (m *meter) Read(p []byte) (int, error) {
	if m.n >= m.limit {
		m.stopped = true
		return 0, errTooLong
	}
	p = p[:min(int64(len(p)), meterRead, m.limit-m.n)]
	n, err := m.r.Read(p)
	m.n += int64(n)
	return n, err
}

// multipartToken returns the token field of the multipart form in body
// (size bytes), whose parts may cost allowance bytes (see the cost rule). A
// form whose parts cost more, or whose text fields hold more than maxBody
// bytes, is ErrBodyTooLarge.
func (x *extraction) multipartToken(body io.Reader, size, allowance int64,
	boundary string) (string, error) {
	src := &meter{r: body, limit: math.MaxInt64}
	mr := multipart.NewReader(src, boundary)
	var vals []string
	var text, spent, parts, lines int64 // text: bytes of text fields read so far
	for {
		// The next part's header may read what the allowance left pays for.
		src.limit = src.n + meterRead + max(0, allowance-spent)/headerByteCost
		p, err := mr.NextPart()
		src.limit = math.MaxInt64
		switch {
		case err == io.EOF:
			return fieldToken(vals, "form")
		case src.stopped:
			return "", tooManyParts(size)
		case err != nil:
			return "", errMalformed
		}
		n := int64(0)
		for _, v := range p.Header {
			n += int64(len(v))
		}
		parts, lines, spent = parts+1, lines+n, spent+partCost+n*headerLineCost
		if parts > maxParts || lines > maxPartHeaders || spent > allowance {
			return "", tooManyParts(size)
		}
		if n, err = x.readPart(p, &vals, x.maxBody-text); err != nil {
			return "", err
		}
		text += n
	}
}

// readPart reads part p to its end: the value of a token field into vals,
// and any other text field or file into nothing. It returns the bytes of text
// it read, at most limit (ErrBodyTooLarge past that).
func (x *extraction) readPart(p *multipart.Part, vals *[]string, limit int64) (int64, error) {
	var n int64
	var err error
	switch {
	case p.FormName() == "" || p.FileName() != "": // not a field, or a file: not text
		_, err = io.Copy(io.Discard, p) // here, not in NextPart's metered reads
	case p.FormName() == x.field:
		var v []byte
		v, err = readAtMost(p, limit)
		n, *vals = int64(len(v)), append(*vals, string(v))
	default:
		n, err = io.Copy(io.Discard, io.LimitReader(p, limit+1))
		if err == nil && n > limit {
			err = errTooLong
		}
	}
	switch {
	case errors.Is(err, errTooLong):
		return 0, fmt.Errorf("%w: multipart text fields over the %d-byte limit",
			ErrBodyTooLarge, x.maxBody)
	case err != nil:
		return 0, errMalformed
	}
	return n, nil
}

var errMalformed = fmt.Errorf("%w: malformed multipart form", ErrTokenMissing)

func tooManyParts(size int64) error {
	return fmt.Errorf("%w: the multipart form has more parts or part headers than its %d bytes allow "+
		"(send the token in the header to protect such a form)", ErrBodyTooLarge, size)
}

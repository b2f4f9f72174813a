// Package silentproxy is a TCP proxy whose connections can die without a
// reset, as behind a NAT or load balancer that forgot them: the simulation
// of dead connections that the client's tests and the load program share.
package silentproxy

import (
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards TCP connections from 127.0.0.1 to a target. Kill makes
// every connection open at that moment dead: what either side writes is
// read and dropped, nothing reaches the other side, and the connection
// stays open until the client closes it. New connections work.
type Proxy struct {
	ln       net.Listener
	target   string
	accepted chan struct{}  // closed when accept has returned
	wg       sync.WaitGroup // the pipes' copies
	mu       sync.Mutex
	// pipes holds every connection, dead ones too, until Close: a dropped
	// net.Conn would be closed by its finalizer, with a reset the client
	// would notice at once, and the death would no longer be silent.
	pipes []*pipe
}

type pipe struct {
	dead       atomic.Bool
	client, up net.Conn
	once       sync.Once
}

// New starts a Proxy to target on a free port of 127.0.0.1.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, accepted: make(chan struct{})}
	go p.accept()
	return p, nil
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer close(p.accepted)
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pp := &pipe{client: c, up: up}
		p.mu.Lock()
		p.pipes = append(p.pipes, pp)
		p.mu.Unlock()
		p.wg.Go(func() { pp.copy(up, c) })
		p.wg.Go(func() { pp.copy(c, up) })
	}
}

// copy forwards src to dst until either fails; once the pipe is dead, it
// reads src and drops what it reads, and only the client closing ends it.
func (pp *pipe) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pp.dead.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if !pp.dead.Load() || src == pp.client {
				pp.close()
			}
			return
		}
	}
}

func (pp *pipe) close() {
	pp.once.Do(func() {
		pp.client.Close()
		pp.up.Close()
	})
}

// Kill makes every connection open now die silently.
func (p *Proxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pp := range p.pipes {
		pp.dead.Store(true)
	}
}

// Close stops the proxy, closes every connection and waits for its
// goroutines.
func (p *Proxy) Close() {
	p.ln.Close()
	<-p.accepted // no pipe is added after this
	p.mu.Lock()
	for _, pp := range p.pipes {
		pp.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

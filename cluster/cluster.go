// Package cluster connects the hosts of a multi-host training job, so that
// what each host learnt from its shard of the data can be merged into one
// model. The first host of resourceconfig.json's sorted list leads: it
// listens on Port, every other host dials it, and each Exchange is one
// round in which every host sends its part, the leader merges the parts in
// host order and every host gets the leader's result back.
//
// A host that fails tells the others (Fail) before it exits, so that a bad
// shard on one host fails the whole job with that host's reason rather
// than leaving the others waiting.
package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultPort is where the leader listens unless SAGEBRUSH_CLUSTER_PORT
// says otherwise (several hosts run on one machine only in local tests).
const DefaultPort = 7651

// PortEnv names the environment variable that overrides DefaultPort.
const PortEnv = "SAGEBRUSH_CLUSTER_PORT"

// PortFromEnv returns the port of PortEnv, or DefaultPort when unset.
func PortFromEnv() (int, error) {
	v := os.Getenv(PortEnv)
	if v == "" {
		return DefaultPort, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%s=%q is not a TCP port (1 to 65535)", PortEnv, v)
	}
	return p, nil
}

// Config says who the hosts are.
type Config struct {
	Hosts   []string // sorted; Hosts[0] leads
	Current string   // this host, one of Hosts
	Port    int
	// DialWait bounds how long a host keeps trying to reach the leader
	// (which may start later), and how long the leader waits for every
	// host to join; 0 means 10 minutes.
	DialWait time.Duration
}

// Group is this host's membership of the job's hosts. Exchange and Fail
// are called from one goroutine.
type Group struct {
	hosts    []string
	self     int
	leader   string // host:port
	dialWait time.Duration

	// Leader: the listener and one connection per other host, by index,
	// filled in as they dial; joined is closed when all have.
	ln      net.Listener
	mu      sync.Mutex
	conns   []net.Conn
	left    int
	joined  chan struct{}
	lnDone  chan struct{} // closed when accept stops (lnErr says why)
	lnErr   error
	closing bool
	joinBy  time.Time // the others must have joined by then

	// Others: the connection to the leader, dialled from Join on in the
	// background (dialed is closed when that ends, dialErr says how), so
	// that a host joins when it starts, not at its first Exchange, which
	// may come after a pass over its shard longer than dialWait.
	conn     net.Conn
	dialed   chan struct{}
	dialErr  error
	stopDial context.CancelFunc

	round  uint32
	failed bool
}

// Join returns this host's Group; the leader starts listening.
func Join(cfg Config) (*Group, error) {
	self := -1
	for i, h := range cfg.Hosts {
		if h == cfg.Current {
			self = i
		}
	}
	if self < 0 {
		return nil, fmt.Errorf("cluster: current host %q is not among the hosts %q", cfg.Current, cfg.Hosts)
	}
	g := &Group{hosts: cfg.Hosts, self: self, leader: net.JoinHostPort(cfg.Hosts[0], strconv.Itoa(cfg.Port)), dialWait: cfg.DialWait}
	if g.dialWait <= 0 {
		g.dialWait = 10 * time.Minute
	}
	if self == 0 {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
		if err != nil {
			return nil, fmt.Errorf("cluster: the leader cannot listen on port %d (set %s to another): %w", cfg.Port, PortEnv, err)
		}
		g.ln, g.conns, g.left = ln, make([]net.Conn, len(cfg.Hosts)), len(cfg.Hosts)-1
		g.joined, g.lnDone = make(chan struct{}), make(chan struct{})
		g.joinBy = time.Now().Add(g.dialWait)
		if g.left == 0 {
			close(g.joined)
		}
		go g.accept()
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		g.dialed, g.stopDial = make(chan struct{}), cancel
		go func() {
			defer close(g.dialed)
			g.dialErr = g.dial(ctx)
		}()
	}
	return g, nil
}

// Size is the number of hosts.
func (g *Group) Size() int { return len(g.hosts) }

// Leader reports whether this host leads (and writes the model).
func (g *Group) Leader() bool { return g.self == 0 }

// Frame kinds.
const (
	kindHello  byte = iota + 1 // payload: the host's name
	kindPart                   // a host's part of a round
	kindResult                 // the leader's merge of a round
	kindFail                   // payload: 1 byte (1: a client error), then the host's name, NUL, the reason
)

// MaxMessage is the most bytes one part or result of an Exchange may
// hold (16 GiB, far above any model state; a corrupt frame length fails
// rather than allocates): a larger one fails the round before it is sent,
// as this host's failure.
const MaxMessage = 16 << 30

// maxPart is the bound Exchange checks parts and results against:
// MaxMessage, lowered by tests (readFrame keeps MaxMessage, so that the
// small frames of a test still pass).
var maxPart int = MaxMessage

// tooLarge is the error of a part or result above maxPart.
func tooLarge(what string, n int) error {
	return fmt.Errorf("cluster: %s of %d bytes is above the %d bytes one message between hosts can carry", what, n, maxPart)
}

func writeFrame(w io.Writer, kind byte, round uint32, payload []byte) error {
	var h [13]byte
	h[0] = kind
	binary.LittleEndian.PutUint32(h[1:], round)
	binary.LittleEndian.PutUint64(h[5:], uint64(len(payload)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func readFrame(r io.Reader) (kind byte, round uint32, payload []byte, err error) {
	var h [13]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.LittleEndian.Uint64(h[5:])
	if n > MaxMessage {
		return 0, 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	// The first trustAfter bytes are read into a buffer that doubles as
	// they arrive, so a corrupt or hostile length fails at the end of the
	// stream instead of in a huge allocation. A sender that got that far
	// means it, and the rest gets one exact allocation: doubling all the
	// way would allocate up to twice a large message (a kNN sample), by
	// the arithmetic of doubling (not measured).
	trusted := min(n, uint64(trustAfter))
	buf := make([]byte, min(trusted, 64<<10))
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, 0, nil, unexpectedEOF(err)
	}
	for uint64(len(buf)) < trusted {
		m := len(buf)
		k := int(min(uint64(m), trusted-uint64(m)))
		buf = slices.Grow(buf, k)[:m+k]
		if _, err := io.ReadFull(r, buf[m:]); err != nil {
			return 0, 0, nil, unexpectedEOF(err)
		}
	}
	if n > uint64(len(buf)) {
		full := make([]byte, n)
		m := copy(full, buf)
		buf = nil
		if _, err := io.ReadFull(r, full[m:]); err != nil {
			return 0, 0, nil, unexpectedEOF(err)
		}
		buf = full
	}
	return h[0], binary.LittleEndian.Uint32(h[1:]), buf, nil
}

// trustAfter is how much of a frame readFrame reads before it allocates
// the whole declared length (a variable for tests).
var trustAfter = 64 << 20

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// HostError is another host's failure, or the loss of its connection.
type HostError struct {
	Host   string
	Reason string
	Client bool // the host failed on the user's input or configuration
}

func (e *HostError) Error() string     { return fmt.Sprintf("host %s failed: %s", e.Host, e.Reason) }
func (e *HostError) ClientError() bool { return e.Client }

func failPayload(host string, err error) []byte {
	var c interface{ ClientError() bool }
	client := byte(0)
	if errors.As(err, &c) && c.ClientError() {
		client = 1
	}
	return append(append(append([]byte{client}, host...), 0), err.Error()...)
}

func parseFail(p []byte, from string) *HostError {
	e := &HostError{Host: from, Reason: "it failed without a reason"}
	if len(p) == 0 {
		return e
	}
	e.Client = p[0] == 1
	rest := p[1:]
	for i, c := range rest {
		if c == 0 {
			e.Host, e.Reason = string(rest[:i]), string(rest[i+1:])
			break
		}
	}
	return e
}

// accept takes the other hosts' connections until all have joined.
func (g *Group) accept() {
	defer close(g.lnDone)
	for {
		c, err := g.ln.Accept()
		if err != nil {
			g.mu.Lock()
			g.lnErr = err
			g.mu.Unlock()
			return
		}
		go g.hello(c)
	}
}

// hello reads a dialling host's name and records its connection.
func (g *Group) hello(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	kind, _, name, err := readFrame(c)
	c.SetReadDeadline(time.Time{})
	idx := -1
	for i, h := range g.hosts {
		if i > 0 && h == string(name) {
			idx = i
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil || kind != kindHello || idx < 0 || g.conns[idx] != nil || g.closing {
		c.Close() // not one of ours, or a second connection of one host
		return
	}
	g.conns[idx] = c
	if g.left--; g.left == 0 {
		close(g.joined)
	}
}

// Exchange is one round: every host's part goes to the leader, which calls
// merge with the parts in host order (its own included) and returns its
// result to every host. merge runs on the leader only. An error of merge,
// of any host (Fail) or of a connection fails the round on every host.
func (g *Group) Exchange(ctx context.Context, part []byte, merge func(parts [][]byte) ([]byte, error)) ([]byte, error) {
	defer func() { g.round++ }()
	if len(g.hosts) == 1 {
		return merge([][]byte{part})
	}
	if len(part) > maxPart {
		return nil, tooLarge("this host's part", len(part))
	}
	if g.Leader() {
		return g.lead(ctx, part, merge)
	}
	return g.follow(ctx, part)
}

func (g *Group) lead(ctx context.Context, part []byte, merge func([][]byte) ([]byte, error)) ([]byte, error) {
	if err := g.waitJoined(ctx); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, g.closeConns) // unblocks the reads below
	defer stop()
	parts := make([][]byte, len(g.hosts))
	parts[0] = part
	errs := make([]error, len(g.hosts))
	var wg sync.WaitGroup
	for i := 1; i < len(g.hosts); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kind, round, p, err := readFrame(g.conns[i])
			switch {
			case err != nil:
				errs[i] = &HostError{Host: g.hosts[i], Reason: "its connection to the leader broke: " + err.Error()}
			case kind == kindFail:
				errs[i] = parseFail(p, g.hosts[i])
			case kind != kindPart || round != g.round:
				errs[i] = &HostError{Host: g.hosts[i], Reason: fmt.Sprintf("it sent frame kind %d of round %d in round %d", kind, round, g.round)}
			default:
				parts[i] = p
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			g.Fail(err)
			return nil, err
		}
	}
	res, err := merge(parts)
	if err == nil && len(res) > maxPart {
		err = tooLarge("the leader's merge", len(res))
	}
	if err != nil {
		g.Fail(err)
		return nil, err
	}
	for i := 1; i < len(g.hosts); i++ {
		if err := writeFrame(g.conns[i], kindResult, g.round, res); err != nil {
			err = &HostError{Host: g.hosts[i], Reason: "its connection to the leader broke: " + err.Error()}
			g.Fail(err)
			return nil, err
		}
	}
	return res, nil
}

func (g *Group) waitJoined(ctx context.Context) error {
	timer := time.NewTimer(time.Until(g.joinBy))
	defer timer.Stop()
	select {
	case <-g.joined:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		select {
		case <-g.joined:
			return nil
		default:
		}
		g.mu.Lock()
		var missing []string
		for i, c := range g.conns {
			if i > 0 && c == nil {
				missing = append(missing, g.hosts[i])
			}
		}
		g.mu.Unlock()
		return fmt.Errorf("cluster: host(s) %s did not join the leading host within %v", strings.Join(missing, ", "), g.dialWait)
	case <-g.lnDone:
		select {
		case <-g.joined: // the last host joined as the listener closed
			return nil
		default:
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		return fmt.Errorf("cluster: the leader stopped accepting hosts: %w", g.lnErr)
	}
}

func (g *Group) follow(ctx context.Context, part []byte) ([]byte, error) {
	select {
	case <-g.dialed:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.dialErr != nil {
		return nil, g.dialErr
	}
	stop := context.AfterFunc(ctx, func() { g.conn.Close() })
	defer stop()
	broke := func(err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return &HostError{Host: g.hosts[0], Reason: "the connection to it broke: " + err.Error()}
	}
	if err := writeFrame(g.conn, kindPart, g.round, part); err != nil {
		return nil, broke(err)
	}
	kind, round, p, err := readFrame(g.conn)
	switch {
	case err != nil:
		return nil, broke(err)
	case kind == kindFail:
		return nil, parseFail(p, g.hosts[0])
	case kind != kindResult || round != g.round:
		return nil, &HostError{Host: g.hosts[0], Reason: fmt.Sprintf("it sent frame kind %d of round %d in round %d", kind, round, g.round)}
	}
	return p, nil
}

// dial connects to the leader, retrying each second for up to dialWait:
// the leader may start after this host. It runs once, from Join.
func (g *Group) dial(ctx context.Context) error {
	wait := g.dialWait
	deadline := time.Now().Add(wait)
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", g.leader)
		if err == nil {
			if err := writeFrame(c, kindHello, 0, []byte(g.hosts[g.self])); err != nil {
				c.Close()
				return &HostError{Host: g.hosts[0], Reason: "the connection to it broke: " + err.Error()}
			}
			g.conn = c
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: could not reach the leading host at %s within %v: %w", g.leader, wait, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Fail tells the other hosts that this one failed with err (best effort:
// the leader tells every host that joined, another host tells the
// leader), so that their rounds fail with this host's reason.
func (g *Group) Fail(err error) {
	if len(g.hosts) == 1 || g.failed {
		return
	}
	g.failed = true
	var he *HostError
	host := g.hosts[g.self]
	if errors.As(err, &he) {
		host, err = he.Host, errors.New(he.Reason) // relay the failing host's own reason
		if he.Client {
			err = clientReason{err}
		}
	}
	if !g.Leader() && he != nil {
		// The leader sent it, or the connection to the leader broke:
		// the leader knows already, and would read back its own name.
		return
	}
	p := failPayload(host, err)
	if g.Leader() {
		g.mu.Lock()
		conns := append([]net.Conn(nil), g.conns...)
		g.mu.Unlock()
		for i, c := range conns {
			if c != nil && g.hosts[i] != host {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				writeFrame(c, kindFail, g.round, p)
			}
		}
		return
	}
	select {
	case <-g.dialed:
	case <-time.After(30 * time.Second): // the leader is not up yet: it will not wait for us either
		return
	}
	if g.dialErr == nil {
		g.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		writeFrame(g.conn, kindFail, g.round, p)
	}
}

type clientReason struct{ error }

func (clientReason) ClientError() bool { return true }

func (g *Group) closeConns() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		if c != nil {
			c.Close()
		}
	}
}

// Close releases the listener and connections.
func (g *Group) Close() error {
	if g.ln != nil {
		g.mu.Lock()
		g.closing = true
		g.mu.Unlock()
		g.ln.Close()
		g.closeConns()
	}
	if g.stopDial != nil {
		g.stopDial()
		<-g.dialed
		if g.conn != nil {
			g.conn.Close()
		}
	}
	return nil
}

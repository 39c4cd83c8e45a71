package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/cli/clitest"
)

// hosts are loopback addresses, so that every host of a test can dial the
// leader by its name.
var hosts = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

// join starts one Group per host, the followers first (they wait for the
// leader).
func join(t *testing.T, hs []string) []*Group {
	t.Helper()
	port := clitest.FreePort(t)
	gs := make([]*Group, len(hs))
	for i := len(hs) - 1; i >= 0; i-- {
		g, err := Join(Config{Hosts: hs, Current: hs[i], Port: port, DialWait: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		gs[i] = g
	}
	return gs
}

// concat merges parts by joining them with "|".
func concat(parts [][]byte) ([]byte, error) { return bytes.Join(parts, []byte("|")), nil }

func TestExchangeRounds(t *testing.T) {
	gs := join(t, hosts)
	for round := range 3 {
		var wg sync.WaitGroup
		got := make([]string, len(gs))
		errs := make([]error, len(gs))
		for i, g := range gs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				merge := concat
				if i != 0 {
					merge = func([][]byte) ([]byte, error) { panic("merge ran on a follower") }
				}
				res, err := g.Exchange(context.Background(), fmt.Appendf(nil, "h%d r%d", i, round), merge)
				got[i], errs[i] = string(res), err
			}()
		}
		wg.Wait()
		want := fmt.Sprintf("h0 r%d|h1 r%d|h2 r%d", round, round, round)
		for i := range gs {
			if errs[i] != nil || got[i] != want {
				t.Fatalf("round %d host %d: %q, %v; want %q", round, i, got[i], errs[i], want)
			}
		}
	}
	if !gs[0].Leader() || gs[1].Leader() || gs[0].Size() != 3 {
		t.Errorf("leader/size wrong")
	}
}

func TestSingleHost(t *testing.T) {
	g, err := Join(Config{Hosts: []string{"algo-1"}, Current: "algo-1", Port: clitest.FreePort(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	res, err := g.Exchange(context.Background(), []byte("x"), concat)
	if err != nil || string(res) != "x" || !g.Leader() {
		t.Fatalf("%q, %v", res, err)
	}
}

type clientErr struct{ error }

func (clientErr) ClientError() bool { return true }

// TestFollowerFails checks that a host's failure reaches every host with
// that host's name, reason and class.
func TestFollowerFails(t *testing.T) {
	gs := join(t, hosts)
	var wg sync.WaitGroup
	errs := make([]error, len(gs))
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 2 {
				g.Fail(clientErr{errors.New("record 7 has 3 features; feature_dim is 4")})
				return
			}
			_, errs[i] = g.Exchange(context.Background(), []byte("part"), concat)
		}()
	}
	wg.Wait()
	for i := range 2 {
		var he *HostError
		if !errors.As(errs[i], &he) || he.Host != "127.0.0.3" || !he.Client || !strings.Contains(he.Reason, "feature_dim is 4") {
			t.Errorf("host %d: %v (%#v), want host 127.0.0.3's client error", i, errs[i], he)
		}
	}
}

// TestMergeFails checks that the leader's merge error reaches the others.
func TestMergeFails(t *testing.T) {
	gs := join(t, hosts[:2])
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = g.Exchange(context.Background(), []byte("p"), func([][]byte) ([]byte, error) {
				return nil, errors.New("no rows on any host")
			})
		}()
	}
	wg.Wait()
	var he *HostError
	if errs[0] == nil || !errors.As(errs[1], &he) || he.Host != "127.0.0.1" || he.Client || !strings.Contains(he.Reason, "no rows") {
		t.Errorf("leader %v, follower %v", errs[0], errs[1])
	}
}

// TestLeaderCancelled checks that a stop (SIGTERM's context) ends a round
// that waits on a host that never comes.
func TestLeaderCancelled(t *testing.T) {
	g, err := Join(Config{Hosts: hosts[:2], Current: hosts[0], Port: clitest.FreePort(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := g.Exchange(ctx, nil, concat); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
}

// TestFollowerLosesLeader checks that a follower whose leader vanishes
// mid-round fails naming the leader.
func TestFollowerLosesLeader(t *testing.T) {
	gs := join(t, hosts[:2])
	done := make(chan error, 1)
	go func() {
		_, err := gs[1].Exchange(context.Background(), []byte("p"), concat)
		done <- err
	}()
	<-gs[0].joined
	gs[0].Close()
	var he *HostError
	if err := <-done; !errors.As(err, &he) || he.Host != "127.0.0.1" {
		t.Fatalf("got %v, want the leader's HostError", err)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := writeFrame(&b, kindPart, 7, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	kind, round, p, err := readFrame(&b)
	if err != nil || kind != kindPart || round != 7 || string(p) != "abc" {
		t.Fatalf("%d %d %q %v", kind, round, p, err)
	}
	// Past trustAfter the rest is allocated at once: the bytes all arrive.
	defer func(v int) { trustAfter = v }(trustAfter)
	trustAfter = 4
	for _, n := range []int{3, 4, 5, 9, 100} {
		msg := bytes.Repeat([]byte("0123456789"), 10)[:n]
		b.Reset()
		if err := writeFrame(&b, kindPart, 8, msg); err != nil {
			t.Fatal(err)
		}
		if _, _, p, err := readFrame(&b); err != nil || !bytes.Equal(p, msg) {
			t.Fatalf("%d bytes: got %q, %v", n, p, err)
		}
		// Cut short, before and after trustAfter: an unexpected EOF.
		for _, cut := range []int{13 + n/2, 13 + n - 1} {
			b.Reset()
			writeFrame(&b, kindPart, 8, msg)
			if _, _, _, err := readFrame(bytes.NewReader(b.Bytes()[:cut])); err != io.ErrUnexpectedEOF {
				t.Fatalf("%d bytes cut to %d: got %v, want io.ErrUnexpectedEOF", n, cut-13, err)
			}
		}
	}
	// Past the first read the buffer doubles up to trustAfter, then takes
	// the rest in one allocation.
	trustAfter = 1 << 20
	for _, n := range []int{64 << 10, 100 << 10, 300 << 10, 1 << 20, 3 << 20} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i * 7)
		}
		b.Reset()
		writeFrame(&b, kindPart, 8, msg)
		if _, _, p, err := readFrame(bytes.NewReader(b.Bytes())); err != nil || !bytes.Equal(p, msg) {
			t.Fatalf("%d bytes: got %d bytes, %v", n, len(p), err)
		}
		if _, _, _, err := readFrame(bytes.NewReader(b.Bytes()[:13+n-1])); err != io.ErrUnexpectedEOF {
			t.Fatalf("%d bytes cut by one: got %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
	// A length the stream does not back costs what the stream holds, not
	// the length: a 60 MiB frame of 10 bytes.
	trustAfter = 64 << 20
	h60 := make([]byte, 13+10)
	h60[0] = kindPart
	binary.LittleEndian.PutUint64(h60[5:], 60<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, _, _, err := readFrame(bytes.NewReader(h60)); err != io.ErrUnexpectedEOF {
		t.Fatalf("60 MiB frame of 10 bytes: got %v, want io.ErrUnexpectedEOF", err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("a 60 MiB frame of 10 bytes allocated %d bytes", got)
	}
	// A corrupt length fails instead of allocating.
	h := make([]byte, 13)
	h[0], h[12] = kindPart, 0xff
	if _, _, _, err := readFrame(bytes.NewReader(h)); err == nil {
		t.Fatal("a 2^63-byte frame was accepted")
	}
}

func TestPortFromEnv(t *testing.T) {
	t.Setenv(PortEnv, "")
	if p, err := PortFromEnv(); p != DefaultPort || err != nil {
		t.Errorf("unset: %d %v", p, err)
	}
	t.Setenv(PortEnv, "9001")
	if p, err := PortFromEnv(); p != 9001 || err != nil {
		t.Errorf("9001: %d %v", p, err)
	}
	t.Setenv(PortEnv, "70000")
	if _, err := PortFromEnv(); err == nil || !strings.Contains(err.Error(), "70000") {
		t.Errorf("70000: %v", err)
	}
}

// FuzzReadFrame: arbitrary bytes from a peer give a frame or an error,
// never a panic, nor an allocation of a length the input cannot back.
func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	writeFrame(&b, kindPart, 3, []byte("part"))
	f.Add(b.Bytes())
	f.Add([]byte{kindFail, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 'h', 0, 'x', 'y'})
	f.Fuzz(func(t *testing.T, in []byte) {
		kind, round, p, err := readFrame(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		writeFrame(&out, kind, round, p)
		if !bytes.Equal(out.Bytes(), in[:out.Len()]) {
			t.Fatalf("frame %d/%d/%q re-encodes differently", kind, round, p)
		}
		if kind == kindFail {
			parseFail(p, "x")
		}
	})
}

// TestTooLarge: a part above the message bound fails its host before it is
// sent, and the others learn it as that host's failure; so does a merge
// result above it, as the leader's.
func TestTooLarge(t *testing.T) {
	defer func(m int) { maxPart = m }(maxPart)
	maxPart = 10
	gs := join(t, hosts[:2])
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := []byte("p")
			if i == 1 {
				part = bytes.Repeat([]byte("x"), 11)
			}
			_, errs[i] = g.Exchange(context.Background(), part, concat)
			if i == 1 && errs[i] != nil {
				g.Fail(errs[i]) // as the trainer does
			}
		}()
	}
	wg.Wait()
	var he *HostError
	if !strings.Contains(fmt.Sprint(errs[1]), "this host's part of 11 bytes is above the 10 bytes") {
		t.Errorf("follower: %v, want the error of its too large part", errs[1])
	}
	if !errors.As(errs[0], &he) || he.Host != "127.0.0.2" || !strings.Contains(he.Reason, "part of 11 bytes") {
		t.Errorf("leader: %v, want host 127.0.0.2's failure", errs[0])
	}

	gs = join(t, hosts[:2])
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = g.Exchange(context.Background(), []byte("part-"+fmt.Sprint(i)), concat) // 13 bytes merged
		}()
	}
	wg.Wait()
	if !strings.Contains(fmt.Sprint(errs[0]), "the leader's merge of 13 bytes") ||
		!errors.As(errs[1], &he) || he.Host != "127.0.0.1" || !strings.Contains(he.Reason, "merge of 13 bytes") {
		t.Errorf("too large merge: leader %v, follower %v", errs[0], errs[1])
	}
}

// TestFollowerKeepsLeaderError: a follower failing with the leader's own
// error does not send it back, so the leader never reads its own name as
// the failing host's.
func TestFollowerKeepsLeaderError(t *testing.T) {
	gs := join(t, hosts[:2])
	done := make(chan error, 1)
	go func() {
		_, err := gs[0].Exchange(context.Background(), []byte("p"), concat)
		done <- err
	}()
	<-gs[1].dialed // joined
	gs[1].Fail(&HostError{Host: "127.0.0.1", Reason: "the leader's reason"})
	gs[1].Close()
	var he *HostError
	if err := <-done; !errors.As(err, &he) || he.Host != "127.0.0.2" {
		t.Fatalf("leader: %v, want the follower's lost connection, not its own name", err)
	}
}

// TestLeaderJoinTimeout: a host that never joins fails the leader's round
// after DialWait, naming it, instead of a wait without end.
func TestLeaderJoinTimeout(t *testing.T) {
	g, err := Join(Config{Hosts: hosts[:2], Current: hosts[0], Port: clitest.FreePort(t), DialWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	start := time.Now()
	_, err = g.Exchange(context.Background(), []byte("p"), concat)
	if err == nil || !strings.Contains(err.Error(), "host(s) 127.0.0.2 did not join the leading host within 200ms") {
		t.Fatalf("got %v, want the error naming the host that did not join", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

// TestLeaderCannotListen: a leader whose port is taken fails at once with
// an error naming the port and the variable that moves it.
func TestLeaderCannotListen(t *testing.T) {
	port := clitest.FreePort(t)
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g, err := Join(Config{Hosts: hosts[:2], Current: hosts[0], Port: port})
	if err == nil {
		g.Close()
		t.Fatal("joined on a port another listener holds")
	}
	if want := fmt.Sprintf("cluster: the leader cannot listen on port %d (set SAGEBRUSH_CLUSTER_PORT to another)", port); !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %q, want it to start %q", err, want)
	}
}

// TestFollowerCannotReachLeader: a follower whose leader never listens
// gives up after DialWait, naming the address it tried.
func TestFollowerCannotReachLeader(t *testing.T) {
	port := clitest.FreePort(t)
	g, err := Join(Config{Hosts: hosts[:2], Current: hosts[1], Port: port, DialWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	start := time.Now()
	_, err = g.Exchange(context.Background(), []byte("p"), concat)
	want := fmt.Sprintf("cluster: could not reach the leading host at 127.0.0.1:%d within 200ms", port)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want an error starting %q", err, want)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

// TestSlowFirstExchange: the hosts join as they start, so a first Exchange
// that comes later than DialWait (after a long pass over a host's shard)
// still finds every host joined. The leader used to count DialWait from
// its own start to the others' first Exchange, where they dialled, and
// failed with "did not join" although every host was well.
func TestSlowFirstExchange(t *testing.T) {
	port := clitest.FreePort(t)
	gs := make([]*Group, 2)
	for i := range gs {
		g, err := Join(Config{Hosts: hosts[:2], Current: hosts[i], Port: port, DialWait: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		gs[i] = g
	}
	time.Sleep(time.Second) // the hosts' first pass over their data
	var wg sync.WaitGroup
	errs := make([]error, len(gs))
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = g.Exchange(context.Background(), []byte("p"), concat)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("host %d: %v", i+1, err)
		}
	}
}

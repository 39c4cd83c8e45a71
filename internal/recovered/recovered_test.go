package recovered

import (
	"strings"
	"testing"
)

// TestGroup: a panic on one goroutine reaches Wait's caller, with the stack
// of the goroutine that panicked, after every goroutine has finished.
func TestGroup(t *testing.T) {
	var g Group
	done := make(chan bool, 2)
	g.Go(func() { done <- true })
	g.Go(func() { panic("boom") })
	g.Go(func() { done <- true })
	defer func() {
		p, ok := recover().(*Panic)
		if !ok || p.Value != "boom" || !strings.Contains(string(p.Stack), "TestGroup") {
			t.Fatalf("recovered %#v, want *Panic boom with the panicking goroutine's stack", p)
		}
		if len(done) != 2 {
			t.Errorf("Wait returned before the other goroutines finished")
		}
	}()
	g.Wait()
	t.Fatal("Wait did not panic")
}

// TestGroupNoPanic: without a panic Wait just waits.
func TestGroupNoPanic(t *testing.T) {
	var g Group
	n := make(chan int, 3)
	for i := range 3 {
		g.Go(func() { n <- i })
	}
	g.Wait()
	if len(n) != 3 {
		t.Errorf("%d of 3 ran", len(n))
	}
}

// TestUnwrap: a carried panic gives its own value and stack; anything else
// is itself, with the caller's stack.
func TestUnwrap(t *testing.T) {
	v, stack := Unwrap(&Panic{Value: "boom", Stack: []byte("helper stack")})
	if v != "boom" || string(stack) != "helper stack" {
		t.Errorf("Unwrap(*Panic) = %v, %q", v, stack)
	}
	v, stack = Unwrap("plain")
	if v != "plain" || !strings.Contains(string(stack), "TestUnwrap") {
		t.Errorf("Unwrap(plain) = %v, stack without TestUnwrap", v)
	}
}

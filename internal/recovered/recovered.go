// Package recovered carries a panic from a helper goroutine to the
// goroutine that waits for it, where the trainer's and the server's recover
// catch it: a training job then fails as an algorithm error (exit 1, a
// failure file) and a request with a 500. A panic left on a goroutine of
// its own ends the process with Go's exit code 2, the code of a client
// error, and no failure file.
package recovered

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Panic is a panic recovered on a helper goroutine, with the stack where it
// happened (the waiter's own stack, where it panics again, says little).
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprint(p.Value) }

// Catch recovers a panic into first unless it already holds one. Defer it
// directly on the helper goroutine: recover works only there.
func Catch(first *atomic.Pointer[Panic]) {
	if r := recover(); r != nil {
		first.CompareAndSwap(nil, &Panic{Value: r, Stack: debug.Stack()})
	}
}

// Unwrap returns what a recover() on the waiting goroutine got: a carried
// *Panic's value and the stack where it happened, else r and this
// goroutine's stack. The trainer and the server log both the same way.
func Unwrap(r any) (value any, stack []byte) {
	if p, ok := r.(*Panic); ok {
		return p.Value, p.Stack
	}
	return r, debug.Stack()
}

// Repanic panics with p on the calling goroutine if p is not nil.
func Repanic(p *Panic) {
	if p != nil {
		panic(p)
	}
}

// Group runs functions on goroutines of their own and waits for them.
type Group struct {
	wg    sync.WaitGroup
	first atomic.Pointer[Panic]
}

// Go runs fn on a new goroutine.
func (g *Group) Go(fn func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer Catch(&g.first)
		fn()
	}()
}

// Wait waits for every function started by Go, then panics again with the
// first panic among them, if any.
func (g *Group) Wait() {
	g.wg.Wait()
	Repanic(g.first.Load())
}

package cpu

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

type funcJob func(t int)

func (f funcJob) do(t int) { f(t) }

// TestRunPanic: a task that panics on a helper goroutine panics again on
// run's caller (where the trainer and the server recover), after every
// other task has run, and the pool still works afterwards.
func TestRunPanic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	const n = 64
	var ran atomic.Int64
	func() {
		defer func() {
			p, ok := recover().(*recovered.Panic)
			if !ok || p.Value != "task 37" {
				t.Fatalf("recovered %#v, want the *recovered.Panic of task 37", p)
			}
		}()
		run(funcJob(func(i int) {
			if i == 37 {
				panic("task 37")
			}
			ran.Add(1)
		}), n, parallelMinWork)
		t.Fatal("run did not panic")
	}()
	if got := ran.Load(); got != n-1 {
		t.Errorf("%d other tasks ran, want %d", got, n-1)
	}
	ran.Store(0)
	run(funcJob(func(int) { ran.Add(1) }), n, parallelMinWork)
	if got := ran.Load(); got != n {
		t.Errorf("after the panic, %d of %d tasks ran", got, n)
	}
}

package data

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

type closeCounter struct {
	BatchReader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// TestReadAhead: the read-ahead reader yields exactly the rows of the
// reader it wraps, batch by batch, and each batch stays intact while the next
// one is being read.
func TestReadAhead(t *testing.T) {
	path := filepath.Join(sdkDir, "fashion_head50.rec")
	open := func() BatchReader {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return NewRecordIOReader(f, 784)
	}
	var want []*Batch
	plain := open()
	for {
		b, err := plain.Read(7)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c := new(Batch)
		copyBatch(c, b)
		want = append(want, c)
	}
	cc := &closeCounter{BatchReader: open()}
	ra := ReadAhead(cc, 7)
	for i := 0; ; i++ {
		b, err := ra.Read(7)
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("EOF after %d batches, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // let the loop read ahead into the other buffer
		w := want[i]
		if b.Rows != w.Rows || b.Cols != w.Cols || len(b.Dense) != len(w.Dense) || len(b.Labels) != len(w.Labels) || b.Indptr != nil {
			t.Fatalf("batch %d: shape %d×%d, want %d×%d", i, b.Rows, b.Cols, w.Rows, w.Cols)
		}
		for j := range w.Dense {
			if b.Dense[j] != w.Dense[j] {
				t.Fatalf("batch %d value %d: got %v, want %v", i, j, b.Dense[j], w.Dense[j])
			}
		}
		for j := range w.Labels {
			if b.Labels[j] != w.Labels[j] {
				t.Fatalf("batch %d label %d: got %v, want %v", i, j, b.Labels[j], w.Labels[j])
			}
		}
	}
	if _, err := ra.Read(7); err != io.EOF {
		t.Errorf("after EOF: got %v, want sticky io.EOF", err)
	}
	if _, err := ra.Read(8); err == nil {
		t.Error("Read with another size: want an error")
	}
	if err := ra.Close(); err != nil || cc.closed != 1 {
		t.Errorf("Close: err %v, underlying closed %d times", err, cc.closed)
	}
	ra.Close()
	if cc.closed != 1 {
		t.Errorf("second Close closed the underlying reader again")
	}
}

type failing struct{ n int }

func (f *failing) Read(n int) (*Batch, error) {
	if f.n == 0 {
		return nil, errors.New("boom")
	}
	f.n--
	return &Batch{Rows: 1, Cols: 1, Dense: []float32{1}}, nil
}
func (f *failing) Close() error { return nil }

func TestReadAheadError(t *testing.T) {
	ra := ReadAhead(&failing{n: 2}, 1)
	defer ra.Close()
	for i := 0; i < 2; i++ {
		if _, err := ra.Read(1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ra.Read(1); err == nil || err.Error() != "boom" {
		t.Fatalf("got %v, want boom", err)
	}
	if _, err := ra.Read(1); err == nil || err.Error() != "boom" {
		t.Fatalf("not sticky: %v", err)
	}
}

type panicking struct{}

func (panicking) Read(int) (*Batch, error) { panic("decoder bug") }
func (panicking) Close() error             { return nil }

// TestReadAheadPanic: a reader's panic on the read-ahead goroutine is
// raised again by Read on the caller's, where the trainer recovers it
// (on its own goroutine it would end the process with exit code 2).
func TestReadAheadPanic(t *testing.T) {
	ra := ReadAhead(panicking{}, 1)
	defer ra.Close()
	defer func() {
		p, ok := recover().(*recovered.Panic)
		if !ok || p.Value != "decoder bug" {
			t.Fatalf("recovered %#v, want *recovered.Panic decoder bug", p)
		}
	}()
	ra.Read(1)
	t.Fatal("Read did not panic")
}

// TestReadAheadCloseEarly: closing before the end stops the goroutine.
func TestReadAheadCloseEarly(t *testing.T) {
	ra := ReadAhead(&failing{n: 1000}, 1)
	if _, err := ra.Read(1); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { ra.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

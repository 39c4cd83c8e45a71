package data

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestEach(t *testing.T) {
	csv := func() BatchReader { return NewCSVReader(strings.NewReader("1,2\n3,4\n5,6\n"), 2, 0) }
	var rows []float32
	err := Each(context.Background(), csv(), 2, func(b *Batch) error {
		rows = append(rows, b.Dense...)
		return nil
	})
	if err != nil || len(rows) != 6 || rows[5] != 6 {
		t.Fatalf("Each: %v, rows %v", err, rows)
	}

	stop := errors.New("stop")
	calls := 0
	err = Each(context.Background(), csv(), 1, func(*Batch) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("fn's error: %v after %d calls, want stop after 1", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = Each(ctx, csv(), 1, func(*Batch) error { calls++; cancel(); return nil })
	if err != context.Canceled || calls != 1 {
		t.Fatalf("cancelled: %v after %d calls, want context.Canceled after 1", err, calls)
	}

	bad := NewCSVReader(strings.NewReader("1,2\nx,4\n"), 2, 0)
	err = Each(context.Background(), bad, 1, func(*Batch) error { return nil })
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "line 2") {
		t.Fatalf("read error: %v (%T), want the reader's *ParseError as it is", err, err)
	}
}

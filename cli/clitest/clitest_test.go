package clitest

import (
	"strings"
	"testing"
	"time"
)

func TestFixture(t *testing.T) {
	if b := Fixture(t, "fashion_head50.csv"); len(b) == 0 {
		t.Error("testdata/sdk/fashion_head50.csv is empty")
	}
}

func TestRun(t *testing.T) {
	r := Run(t, []string{"CLITEST_X=x"}, 10*time.Second, "sh", "-c", `echo out $CLITEST_X; echo err >&2; exit 3`)
	if r.Code != 3 || r.Stdout != "out x\n" || r.Stderr != "err\n" {
		t.Errorf("got %+v, want exit 3, stdout %q, stderr %q", r, "out x\n", "err\n")
	}
	if log := r.Log(); !strings.Contains(log, "out x\n") || !strings.Contains(log, "err\n") || len(log) != len("out x\nerr\n") {
		t.Errorf("Log() = %q, want stdout and stderr", log)
	}
}

func TestProcessWait(t *testing.T) {
	p := Start(t, nil, "sh", "-c", "echo hi; exit 7")
	code, ok := p.Wait(10 * time.Second)
	if !ok || code != 7 {
		t.Errorf("Wait = %d, %v; want 7, true", code, ok)
	}
	if p.Output() != "hi\n" {
		t.Errorf("Output() = %q, want %q", p.Output(), "hi\n")
	}
}

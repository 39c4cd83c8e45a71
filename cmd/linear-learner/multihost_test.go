package main_test

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// splitByLabel cuts CSV rows into those of label 0 and those of label 1.
func splitByLabel(b []byte) (neg, pos []byte) {
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("0,")):
			neg = append(neg, line...)
		case bytes.HasPrefix(line, []byte("1,")):
			pos = append(pos, line...)
		}
	}
	return neg, pos
}

// TestTrainMultiHost: two real processes, each given one class only
// (ShardedByS3Key over files sorted by label), train one model together:
// the leader writes it, it separates the classes, and both hosts report
// the same test accuracy from the validation both selected on.
func TestTrainMultiHost(t *testing.T) {
	t.Parallel()
	hp := map[string]string{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "100", "epochs": "5", "num_models": "4"}
	neg, pos := splitByLabel(csvData(2000, 1))
	roots := clitest.HostRoots(t, hp, [][]byte{neg, pos}, map[string]trainertest.Channel{
		"validation": csvChannel(csvData(500, 2)), "test": csvChannel(csvData(500, 3))})
	codes, logs := clitest.TrainHosts(t, binary, roots)
	acc := regexp.MustCompile(`test binary_classification_accuracy <score>=([0-9.]+)`)
	clitest.HostsSucceeded(t, roots, codes, logs)
	var scores []string
	for i := range codes {
		m := acc.FindStringSubmatch(logs[i])
		if m == nil {
			t.Fatalf("host %s logged no test accuracy:\n%s", clitest.TwoHosts[i], logs[i])
		}
		if v, _ := strconv.ParseFloat(m[1], 64); v < 0.9 {
			t.Errorf("host %s: test accuracy %v, want ≥ 0.9", clitest.TwoHosts[i], v)
		}
		scores = append(scores, m[1])
	}
	if scores[0] != scores[1] {
		t.Errorf("the hosts' test accuracies differ: %v; both score the leader's model on the same test rows", scores)
	}
	if !strings.Contains(logs[0], "scaler fitted to the samples of 2 hosts") || !strings.Contains(logs[1], "received the model the leading host selected") {
		t.Errorf("the logs do not tell of the merge:\n%s\n%s", logs[0], logs[1])
	}
	if got := trainertest.ModelFiles(t, roots[1]); len(got) != 0 {
		t.Errorf("the second host wrote %q; only the leader writes the model", got)
	}
	wantSeparates(t, roots[0])
}

// TestTrainMultiHostNoRecords: when no host has a record, both fail with
// the leader's ClientError.
func TestTrainMultiHostNoRecords(t *testing.T) {
	t.Parallel()
	hp := map[string]string{"feature_dim": "3", "predictor_type": "binary_classifier"}
	roots := clitest.HostRoots(t, hp, [][]byte{nil, nil}, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsFailed(t, roots, codes, logs, "", "the train channels of all 2 hosts hold no records")
}

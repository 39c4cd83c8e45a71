// Package clustertest joins the hosts of an in-process multi-host job for
// the algorithms' tests: real cluster groups on loopback addresses, so
// that their merges run over the same frames as in a job.
package clustertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/cluster"
)

// Hosts are loopback addresses: every host of a test dials the leader by
// its name.
var Hosts = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

// Join returns one joined Group for each of the first n Hosts (the leader
// first), closed when the test ends.
func Join(t testing.TB, n int) []*cluster.Group {
	t.Helper()
	hs := Hosts[:n]
	port := clitest.FreePort(t)
	groups := make([]*cluster.Group, n)
	for i := n - 1; i >= 0; i-- { // followers first: they wait for the leader
		g, err := cluster.Join(cluster.Config{Hosts: hs, Current: hs[i], Port: port, DialWait: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		groups[i] = g
	}
	return groups
}

// Train runs algo's Train with ctx for every job at once, as the hosts of
// one job: job i becomes host i of the first len(jobs) Hosts, joined by
// Join, and a host whose Train fails tells the others unless ctx was
// cancelled (a stop reaches every host), as the trainer does. It returns
// each host's model and error.
func Train(t testing.TB, ctx context.Context, algo algorithms.Algorithm, jobs []*algorithms.Job) ([]algorithms.Model, []error) {
	t.Helper()
	hs := Hosts[:len(jobs)]
	groups := Join(t, len(jobs))
	models := make([]algorithms.Model, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		job.Peers = groups[i]
		job.Cluster = algorithms.Cluster{CurrentHost: hs[i], Hosts: hs}
		wg.Add(1)
		go func() {
			defer wg.Done()
			models[i], errs[i] = algo.Train(ctx, job)
			if errs[i] != nil && ctx.Err() == nil { // a stop is every host's, not relayed
				groups[i].Fail(errs[i])
			}
		}()
	}
	wg.Wait()
	return models, errs
}

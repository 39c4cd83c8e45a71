package trainer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/cluster"
)

// Host name resolution; variables so that tests can shorten them.
var (
	lookupHost    = net.DefaultResolver.LookupHost
	resolveWait   = 60 * time.Second
	resolveRetry  = time.Second
	errUnresolved = errors.New("host name does not resolve")
)

// resolveHosts resolves the names of the other hosts of the cluster,
// retrying for up to resolveWait: SageMaker says host names may not be
// available at once.
func (j *job) resolveHosts(c algorithms.Cluster) error {
	for _, h := range c.Hosts {
		if h == c.CurrentHost {
			continue
		}
		addrs, err := resolve(j.ctx, h)
		if err != nil {
			return err
		}
		j.log.infof("host %s resolves to %v", h, addrs)
	}
	return nil
}

// resolve looks up host until it resolves, resolveWait passes, or ctx is
// done.
func resolve(ctx context.Context, host string) ([]string, error) {
	deadline := time.Now().Add(resolveWait)
	for {
		addrs, err := lookupHost(ctx, host)
		if err == nil && len(addrs) > 0 {
			return addrs, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if err == nil {
			err = errUnresolved
		}
		if !time.Now().Add(resolveRetry).Before(deadline) {
			return nil, fmt.Errorf("host %q of resourceconfig.json did not resolve within %v: %w", host, resolveWait, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(resolveRetry):
		}
	}
}

// joinPeers connects this host to the job's others when the algorithm
// merges hosts (the leader listens, the others dial it from now on, in the
// background); for one that does not, it only says so and returns nil.
func (j *job) joinPeers(c algorithms.Cluster) (*cluster.Group, error) {
	if !algorithms.MergesHosts(j.algo) {
		j.log.infof("distributed training on %d hosts: %s does not merge hosts; each host trains on the data it was given and the model of %s is the job's (with ShardedByS3Key, trained on its shard only)",
			len(c.Hosts), j.algo.Name(), c.Hosts[0])
		return nil, nil
	}
	port, err := cluster.PortFromEnv()
	if err != nil {
		return nil, &ConfigError{File: "the environment", Msg: err.Error()}
	}
	g, err := cluster.Join(cluster.Config{Hosts: c.Hosts, Current: c.CurrentHost, Port: port})
	if err != nil {
		return nil, err
	}
	j.log.infof("distributed training on %d hosts: each host trains on the data it was given and %s merges them into one model (port %d)",
		len(c.Hosts), c.Hosts[0], port)
	return g, nil
}

// isEINVAL reports whether err is EINVAL (fsync of a directory on some
// file systems).
func isEINVAL(err error) bool { return errors.Is(err, syscall.EINVAL) }

// Package algorithms defines what every built-in algorithm provides to the
// training and serving runtimes: the Algorithm (schema, channels, Train,
// Load) and the Model it produces. Algorithms know nothing about HTTP or
// /opt/ml paths; the runtimes know nothing about any single algorithm.
package algorithms

import (
	"context"
	"errors"
	"fmt"

	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// Algorithm is one built-in algorithm.
type Algorithm interface {
	// Name is the algorithm's name as in its image, e.g. "kmeans".
	Name() string
	// Schema describes and validates the hyperparameters.
	Schema() *hyper.Schema
	// Channels lists the channels the algorithm reads.
	Channels() []ChannelSpec
	// Train trains a model. It returns ctx.Err() promptly when ctx is
	// cancelled (SIGTERM), with the model learnt so far when there is a
	// valid one (the trainer saves it): a stop while the test channel is
	// scored loses nothing of a finished model.
	Train(ctx context.Context, job *Job) (Model, error)
	// Load reads a model that Save (ours or SageMaker's) wrote into dir.
	Load(dir string) (Model, error)
}

// ChannelSpec is one channel an algorithm reads.
type ChannelSpec struct {
	Name     string
	Required bool
	// ContentTypes are the accepted training content types (base types
	// without parameters), e.g. text/csv and application/x-recordio-protobuf.
	ContentTypes []string
	// FileOnly lists content types accepted in File mode only (LDA's CSV).
	FileOnly []string
}

// TrainChannels returns a required train channel followed by the named
// optional ones (validation, test), each CSV or RecordIO-protobuf in File
// or Pipe mode: the channel set of most built-in algorithms.
func TrainChannels(optional ...string) []ChannelSpec {
	types := []string{data.RecordIOProtobuf, data.CSV}
	specs := []ChannelSpec{{Name: "train", Required: true, ContentTypes: types}}
	for _, name := range optional {
		specs = append(specs, ChannelSpec{Name: name, ContentTypes: types})
	}
	return specs
}

// Job is everything Train needs.
type Job struct {
	Hyper    hyper.Values
	Channels map[string]Channel // the channels present, by name
	Metrics  Metrics
	Compute  compute.Backend
	Cluster  Cluster
	// Peers connects the hosts of a multi-host job (nil for one host).
	Peers Peers
}

// MultiHost reports whether the job runs on several hosts joined through
// Peers: each host then trains on its shard, one without records takes
// part with none, and the merge fails the job when no host has any.
func (j *Job) MultiHost() bool { return j.Peers != nil && j.Peers.Size() > 1 }

// Peers is the hosts of a multi-host job (cluster.Group), for merging what
// each host learnt from its shard of the data into one model.
type Peers interface {
	Size() int
	// Leader reports whether this host leads: it merges and writes the
	// model.
	Leader() bool
	// Exchange sends this host's part to the leader, which calls merge
	// with every host's part in host order; every host gets its result.
	Exchange(ctx context.Context, part []byte, merge func(parts [][]byte) ([]byte, error)) ([]byte, error)
}

// HostMerger is an Algorithm that merges the hosts of a multi-host job
// into one model through Job.Peers. Only the leading host of such a job
// writes the model; an algorithm that does not merge trains each host on
// its own data, and the leader's model is the job's.
type HostMerger interface {
	MergesHosts() bool
}

// MergesHosts reports whether algo merges the hosts of a multi-host job.
func MergesHosts(algo Algorithm) bool {
	m, ok := algo.(HostMerger)
	return ok && m.MergesHosts()
}

// Cluster is the training cluster as resourceconfig.json describes it.
type Cluster struct {
	CurrentHost string   // e.g. "algo-1"
	Hosts       []string // sorted
}

// Channel is one input channel; each Open is one pass (epoch) over its data,
// whether it lives in files (File mode) or arrives through a FIFO per epoch
// (Pipe mode).
type Channel interface {
	Name() string
	// Open starts pass number epoch (0-based). Passes must be opened in
	// order; in Pipe mode pass n reads the FIFO <channel>_n.
	Open(ctx context.Context, epoch int) (data.BatchReadCloser, error)
}

// Metrics receives what a training run reports; the trainer writes it in the
// built-in algorithms' log format.
type Metrics interface {
	// Logf writes an informational line.
	Logf(format string, args ...any)
	// Batch reports that a training mini-batch of rows was consumed; it
	// drives the progress display and throughput figures.
	Batch(rows int)
	// EpochEnd reports the end of training epoch (0-based) with optional
	// train metrics by name (e.g. "msd").
	EpochEnd(epoch int, train map[string]float64)
	// Score reports a final quality metric, e.g. Score("test", "msd", 0.013)
	// logs test:msd.
	Score(channel, name string, value float64)
}

// Model is a trained model. It is read-only after Train or Load and safe
// for concurrent use by many requests.
type Model interface {
	// FeatureDim is the number of features a request row must have.
	FeatureDim() int
	// Save writes the model's artifact files into dir, which exists and is
	// empty.
	Save(dir string) error
	// Predict computes the outputs for every row of b.
	Predict(ctx context.Context, b *data.Batch, opts PredictOptions) (*data.Predictions, error)
}

// PredictOptions carries what the request says beyond its rows.
type PredictOptions struct {
	// Accept is the negotiated response type; its parameters (e.g.
	// verbose=true) may change what is computed.
	Accept data.MediaType
}

// ClientError reports whether err, or an error it wraps, is the user's
// fault (bad hyperparameters, bad data, bad configuration): any error in the
// chain with a method ClientError() bool that returns true. Such errors give
// "ClientError:" and exit code 2 in training and a 4xx in serving.
func ClientError(err error) bool {
	var c interface{ ClientError() bool }
	return errors.As(err, &c) && c.ClientError()
}

// InputError is a client error found by an algorithm, e.g. a feature vector
// whose length differs from feature_dim, or too few rows for k clusters.
type InputError struct{ Msg string }

func (e *InputError) Error() string     { return e.Msg }
func (e *InputError) ClientError() bool { return true }

// Errorf returns an *InputError with a formatted message.
func Errorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// Package trainer is the training runtime: it runs one SageMaker training
// job for an algorithms.Algorithm against an ml root (/opt/ml in the
// container).
//
// Run reads input/config/{hyperparameters,inputdataconfig,resourceconfig}.json,
// validates the hyperparameters with the algorithm's schema and the channels
// with its ChannelSpecs, presents every channel (File mode files, gzip or
// not, or Pipe mode FIFOs <channel>_<epoch>) as an algorithms.Channel, logs
// metrics in the built-in algorithms' format, and saves the model
// atomically into model/. A failure is written to output/failure as one
// paragraph, "ClientError: ..." (exit code 2) or "AlgorithmError: ..."
// (exit code 1). A cancelled context (SIGTERM) stops the job promptly: no
// failure file, an intermediate model saved when the algorithm returns
// one, exit code 143.
package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
	"github.com/sagebrush-ml/sagebrush/cluster"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

// Exit codes returned by Run.
const (
	ExitOK             = 0
	ExitAlgorithmError = 1
	ExitClientError    = 2
	// ExitStopped is 128+SIGTERM, what a shell reports for a process
	// killed by SIGTERM.
	ExitStopped = 143
)

// DefaultPipeWait is how long a Pipe-mode pass waits for its FIFO to appear.
const DefaultPipeWait = 10 * time.Minute

// Options configure Run.
type Options struct {
	Root   string    // the ml root; "/opt/ml" when empty
	Stdout io.Writer // log lines (metrics) go here; os.Stdout when nil
	Stderr io.Writer // progress display goes here when Progress is true; os.Stderr when nil
	// Progress shows a live progress line (epoch, records/s) on Stderr. The
	// CLI sets it when stderr is a terminal; in SageMaker's logs only the
	// documented lines are printed.
	Progress bool
	// PipeWait is how long to wait for a Pipe-mode FIFO to appear before
	// failing; DefaultPipeWait when zero.
	PipeWait time.Duration
}

// Run runs one training job for algo and returns the process exit code:
// ExitOK, ExitClientError (2), ExitAlgorithmError (1), or ExitStopped (143)
// when ctx is cancelled (the CLI cancels it on SIGTERM).
func Run(ctx context.Context, algo algorithms.Algorithm, opts Options) int {
	if opts.Root == "" {
		opts.Root = "/opt/ml"
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.PipeWait <= 0 {
		opts.PipeWait = DefaultPipeWait
	}
	log := newLogger(opts.Stdout)
	if opts.Progress {
		log.prog = &progress{w: opts.Stderr}
	}
	j := &job{ctx: ctx, algo: algo, opts: opts, log: log}
	err := j.run()
	if j.metrics != nil {
		j.metrics.finish()
	}
	switch {
	case err == nil:
		if j.leader != "" {
			log.infof("training completed; the leading host %s saves the model", j.leader)
		} else {
			log.infof("training completed; model saved to %s", filepath.Join(opts.Root, "model"))
		}
		return ExitOK
	case ctx.Err() != nil:
		log.infof("training stopped by SIGTERM")
		return ExitStopped
	}
	return j.fail(err)
}

// job is one run of Run.
type job struct {
	ctx     context.Context
	algo    algorithms.Algorithm
	opts    Options
	log     *logger
	metrics *metrics
	leader  string // the first host, when this is another host of a multi-host job: it writes no model
}

// run does the whole job; a non-nil error is the job's failure (or the
// cancellation).
func (j *job) run() error {
	root := j.opts.Root
	j.log.infof("%s training started (ml root %s)", j.algo.Name(), root)
	if sel := compute.Selected(); sel.Err != nil {
		return fmt.Errorf("compute device: %w", sel.Err) // an AlgorithmError: exit 1
	} else if sel.Message != "" {
		j.log.infof("%s", sel.Message)
	}

	rc, err := readResourceConfig(root)
	if err != nil {
		return err
	}
	hpBytes, given, err := readHyperparameters(root)
	if err != nil {
		return err
	}
	j.log.infof("arguments provided (hyperparameters.json): %s", jsonText(given))
	schema := j.algo.Schema()
	hp, err := schema.ParseJSON(hpBytes)
	if err != nil {
		return err
	}
	j.log.infof("effective hyperparameters: %s", jsonText(hp.Map()))

	chans, err := readInputDataConfig(root)
	if err != nil {
		return err
	}
	channels, err := j.channels(chans, featureDim(schema, hp))
	if err != nil {
		return err
	}

	backend, err := currentBackend()
	if err != nil {
		return err
	}
	hosts := algorithms.Cluster{CurrentHost: rc.CurrentHost, Hosts: rc.Hosts}
	j.log.infof("host %s (%d of %d hosts), compute backend %s", hosts.CurrentHost,
		slices.Index(hosts.Hosts, hosts.CurrentHost)+1, len(hosts.Hosts), backend.Name())
	var peers *cluster.Group // only for an algorithm that merges hosts
	if len(hosts.Hosts) > 1 {
		if err := j.resolveHosts(hosts); err != nil {
			return err
		}
		if peers, err = j.joinPeers(hosts); err != nil {
			return err
		}
		if peers != nil {
			defer peers.Close()
		}
	}

	if err := j.ctx.Err(); err != nil {
		return err
	}
	j.metrics = newMetrics(j.log, rc.CurrentHost, epochsOf(schema, hp))
	aj := &algorithms.Job{Hyper: hp, Channels: channels, Metrics: j.metrics, Compute: backend, Cluster: hosts}
	if peers != nil {
		aj.Peers = peers
	}
	model, err := train(j.ctx, j.algo, aj, j.log)
	if err != nil && peers != nil && j.ctx.Err() == nil {
		peers.Fail(err) // the other hosts fail with this one's reason
	}
	if leader := hosts.Hosts[0]; len(hosts.Hosts) > 1 && hosts.CurrentHost != leader {
		j.leader = leader // the first host writes the job's model, under its own name
		return err
	}
	if err != nil {
		if model != nil && j.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, j.ctx.Err())) {
			j.log.infof("saving the intermediate model")
			if serr := saveModel(root, model, j.log); serr != nil {
				j.log.errorf("saving the intermediate model failed: %s", oneParagraph(serr.Error()))
			}
		}
		return err
	}
	if model == nil {
		return errors.New(j.algo.Name() + " returned no model and no error")
	}
	return saveModel(root, model, j.log)
}

// fail logs err, writes output/failure and returns the exit code.
func (j *job) fail(err error) int {
	msg := oneParagraph(err.Error())
	j.log.errorf("%s", msg)
	kind, code := "AlgorithmError", ExitAlgorithmError
	if algorithms.ClientError(err) {
		kind, code = "ClientError", ExitClientError
	}
	if werr := writeFailure(j.opts.Root, kind+": "+msg); werr != nil {
		j.log.errorf("writing the failure file: %v", werr)
	}
	return code
}

// writeFailure writes the failure description to R/output/failure.
func writeFailure(root, text string) error {
	dir := filepath.Join(root, "output")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "failure"), []byte(text+"\n"), 0o644)
}

// oneParagraph collapses the lines of s into one.
func oneParagraph(s string) string { return strings.Join(strings.Fields(s), " ") }

// jsonText formats v as JSON for the log (maps come out with sorted keys).
func jsonText(v any) string {
	if v == nil {
		return "{}"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// PanicError is a panic recovered in an algorithm's Train or Save: an
// algorithm error.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// panicError makes a recovered value a *PanicError, with the stack of the
// goroutine that panicked when a helper's panic was carried to this one.
func panicError(r any) *PanicError {
	v, stack := recovered.Unwrap(r)
	return &PanicError{Value: v, Stack: stack}
}

// train calls algo.Train, recovering a panic as a *PanicError whose stack
// goes to the log.
func train(ctx context.Context, algo algorithms.Algorithm, aj *algorithms.Job, log *logger) (m algorithms.Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := panicError(r)
			log.errorf("%s in Train:\n%s", pe.Error(), pe.Stack)
			m, err = nil, pe
		}
	}()
	return algo.Train(ctx, aj)
}

// currentBackend returns compute.Current(), or an error when no backend
// was installed.
func currentBackend() (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("no compute backend: %v", r)
		}
	}()
	return compute.Current(), nil
}

// paramOf returns the schema's parameter name, or nil.
func paramOf(s *hyper.Schema, name string) *hyper.Param {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

// featureDim is the feature_dim hyperparameter, or 0 (learn it from the
// data) when the schema has none or it is "auto".
func featureDim(s *hyper.Schema, v hyper.Values) int {
	if p := paramOf(s, "feature_dim"); p == nil || p.Kind != hyper.Int || !v.Has("feature_dim") || v.IsAuto("feature_dim") {
		return 0
	}
	return v.Int("feature_dim")
}

// epochsOf is the epochs hyperparameter, or 0 when the schema has none.
func epochsOf(s *hyper.Schema, v hyper.Values) int {
	if p := paramOf(s, "epochs"); p == nil || p.Kind != hyper.Int || !v.Has("epochs") || v.IsAuto("epochs") {
		return 0
	}
	return v.Int("epochs")
}

// channels checks the configured channels against the algorithm's specs
// and builds them.
func (j *job) channels(cfg map[string]channelConfig, dim int) (map[string]algorithms.Channel, error) {
	const file = "inputdataconfig.json"
	specs := j.algo.Channels()
	var valid []string
	for _, s := range specs {
		valid = append(valid, s.Name)
		if _, ok := cfg[s.Name]; s.Required && !ok {
			return nil, &ConfigError{File: file, Msg: fmt.Sprintf("channel %q is required but not in %s", s.Name, file)}
		}
	}
	names := make([]string, 0, len(cfg))
	for name := range cfg {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make(map[string]algorithms.Channel, len(cfg))
	for _, name := range names {
		cc := cfg[name]
		i := slices.IndexFunc(specs, func(s algorithms.ChannelSpec) bool { return s.Name == name })
		if i < 0 {
			return nil, &ConfigError{File: file, Msg: fmt.Sprintf("channel %q is not one that %s reads: valid channels are %s",
				name, j.algo.Name(), quoteList(valid))}
		}
		spec := specs[i]
		mode, err := inputMode(name, cc.TrainingInputMode)
		if err != nil {
			return nil, err
		}
		gz, err := compression(name, cc.CompressionType)
		if err != nil {
			return nil, err
		}
		unwrap, err := recordWrapper(name, cc.RecordWrapperType)
		if err != nil {
			return nil, err
		}
		mt, err := data.ParseMediaType(cc.ContentType)
		if err != nil {
			return nil, fmt.Errorf("channel %q: %w", name, err)
		}
		if mt.Type == "" {
			mt.Type = data.RecordIOProtobuf
		}
		if !slices.Contains(spec.ContentTypes, mt.Type) {
			return nil, &ConfigError{File: file, Msg: fmt.Sprintf("channel %q has ContentType %q, which %s does not accept for training: expected one of %s",
				name, cc.ContentType, j.algo.Name(), quoteList(spec.ContentTypes))}
		}
		if mode == PipeMode && slices.Contains(spec.FileOnly, mt.Type) {
			return nil, &ConfigError{File: file, Msg: fmt.Sprintf("channel %q: %s reads ContentType %q in File mode only, not in Pipe mode",
				name, j.algo.Name(), mt.Type)}
		}
		c := &channel{name: name, dataDir: filepath.Join(j.opts.Root, "input", "data"), mode: mode, gzip: gz,
			unwrap: unwrap, mt: mt, featureDim: dim, pipeWait: j.opts.PipeWait, runCtx: j.ctx}
		if mode == FileMode {
			if err := c.checkDir(); err != nil {
				return nil, err
			}
		}
		j.log.infof("channel %s: %s mode, ContentType %s, CompressionType %s", name, mode, mt.String(), map[bool]string{false: "None", true: "Gzip"}[gz])
		out[name] = c
	}
	return out, nil
}

// inputMode normalizes TrainingInputMode (default File).
func inputMode(channel, s string) (string, error) {
	switch {
	case s == "" || strings.EqualFold(s, FileMode):
		return FileMode, nil
	case strings.EqualFold(s, PipeMode):
		return PipeMode, nil
	}
	return "", &ConfigError{File: "inputdataconfig.json", Msg: fmt.Sprintf("channel %q has TrainingInputMode %q: expected \"File\" or \"Pipe\"", channel, s)}
}

// compression reports whether CompressionType is Gzip (default None).
func compression(channel, s string) (bool, error) {
	switch {
	case s == "" || strings.EqualFold(s, "None"):
		return false, nil
	case strings.EqualFold(s, "Gzip"):
		return true, nil
	}
	return false, &ConfigError{File: "inputdataconfig.json", Msg: fmt.Sprintf("channel %q has CompressionType %q: expected \"None\" or \"Gzip\"", channel, s)}
}

// recordWrapper reports whether RecordWrapperType is RecordIO (default None).
func recordWrapper(channel, s string) (bool, error) {
	switch {
	case s == "" || strings.EqualFold(s, "None"):
		return false, nil
	case strings.EqualFold(s, "RecordIO"):
		return true, nil
	}
	return false, &ConfigError{File: "inputdataconfig.json", Msg: fmt.Sprintf("channel %q has RecordWrapperType %q: expected \"None\" or \"RecordIO\"", channel, s)}
}

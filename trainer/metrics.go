package trainer

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/data"
)

// logger writes lines in the built-in algorithms' log format,
//
//	[11/21/2026 10:15:33 INFO 140026520049408] message
//
// with UTC timestamps, and draws the optional live progress line. It is safe
// for concurrent use.
type logger struct {
	mu   sync.Mutex
	out  io.Writer
	tid  uint64
	now  func() time.Time
	prog *progress // nil unless Options.Progress
}

// threadID is a stable, thread-id-looking number derived from the process
// id, like the 140026520049408 of the built-in algorithms' logs.
func threadID() uint64 { return 0x7f0000000000 + uint64(os.Getpid())<<12 }

func newLogger(out io.Writer) *logger {
	return &logger{out: out, tid: threadID(), now: time.Now}
}

// line writes one log line at level (INFO, WARNING, ERROR).
func (l *logger) line(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clearProgress()
	ts := l.now().UTC().Format("01/02/2006 15:04:05")
	fmt.Fprintf(l.out, "[%s %s %d] %s\n", ts, level, l.tid, strings.TrimRight(msg, "\n"))
}

// raw writes msg as a line without the bracketed prefix (#metrics lines).
func (l *logger) raw(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clearProgress()
	io.WriteString(l.out, msg+"\n")
}

func (l *logger) infof(format string, args ...any) { l.line("INFO", fmt.Sprintf(format, args...)) }

func (l *logger) errorf(format string, args ...any) { l.line("ERROR", fmt.Sprintf(format, args...)) }

// clearProgress erases the live line before a log line; l.mu is held.
func (l *logger) clearProgress() {
	if l.prog != nil {
		l.prog.clear()
	}
}

// progress is the live "epoch 1/3  120000 records  54277 records/s" line on
// a terminal, redrawn in place at most 10 times a second.
type progress struct {
	w     io.Writer
	drawn bool
	last  time.Time
}

func (p *progress) draw(now time.Time, text string, force bool) {
	if !force && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r\x1b[K%s", text)
	p.drawn = true
}

func (p *progress) clear() {
	if p.drawn {
		io.WriteString(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// metrics implements algorithms.Metrics on a logger.
type metrics struct {
	log    *logger
	host   string
	epochs int // the "epochs" hyperparameter, 0 when the algorithm has none
	start  time.Time

	mu         sync.Mutex
	epoch      int // epochs completed
	epochStart time.Time
	rows       int64 // rows of the current epoch
}

var _ algorithms.Metrics = (*metrics)(nil)

func newMetrics(log *logger, host string, epochs int) *metrics {
	now := log.now()
	return &metrics{log: log, host: host, epochs: epochs, start: now, epochStart: now}
}

// Logf writes an informational line.
func (m *metrics) Logf(format string, args ...any) { m.log.infof(format, args...) }

// Batch counts rows toward the current epoch's throughput and redraws the
// progress line.
func (m *metrics) Batch(rows int) {
	m.mu.Lock()
	m.rows += int64(rows)
	total, epoch, start := m.rows, m.epoch, m.epochStart
	m.mu.Unlock()
	if m.log.prog == nil {
		return
	}
	now := m.log.now()
	text := m.progressText(epoch, total, now.Sub(start))
	m.log.mu.Lock()
	m.log.prog.draw(now, text, false)
	m.log.mu.Unlock()
}

func (m *metrics) progressText(epoch int, rows int64, d time.Duration) string {
	s := "epoch " + strconv.Itoa(epoch+1)
	if m.epochs > 0 {
		s += "/" + strconv.Itoa(m.epochs)
	}
	s += fmt.Sprintf("  %d records", rows)
	if sec := d.Seconds(); sec > 0 {
		s += fmt.Sprintf("  %.0f records/s", float64(rows)/sec)
	}
	return s
}

// EpochEnd logs the progress, the train metrics (sorted by name) and the
// epoch's throughput:
//
//	#progress_metric: host=algo-1, completed 50.0 % of epochs
//	#quality_metric: host=algo-1, epoch=0, train msd <loss>=0.0133
//	#metrics {"Metrics": {"train_msd": {...}}, "EndTime": ..., "StartTime": ...}
//	#throughput_metric: host=algo-1, train throughput=54277.1 records/second
//
// Without an "epochs" hyperparameter the progress line reads "completed
// epoch N" with the same 0-based N as epoch=N.
func (m *metrics) EpochEnd(epoch int, train map[string]float64) {
	now := m.log.now()
	m.mu.Lock()
	rows, start := m.rows, m.epochStart
	m.rows = 0
	m.epochStart = now
	m.epoch = epoch + 1
	m.mu.Unlock()

	if m.epochs > 0 {
		pct := math.Min(100, 100*float64(epoch+1)/float64(m.epochs))
		m.log.infof("#progress_metric: host=%s, completed %s %% of epochs", m.host, strconv.FormatFloat(pct, 'f', 1, 64))
	} else {
		m.log.infof("#progress_metric: host=%s, completed epoch %d", m.host, epoch)
	}
	names := make([]string, 0, len(train))
	for name := range train {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := train[name]
		m.log.infof("#quality_metric: host=%s, epoch=%d, train %s <%s>=%s", m.host, epoch, name, kindOf(name), formatValue(v))
		m.log.raw(metricsJSON("train_"+name, v, start, now))
	}
	if sec := now.Sub(start).Seconds(); sec > 0 && rows > 0 {
		m.log.infof("#throughput_metric: host=%s, train throughput=%s records/second", m.host,
			strconv.FormatFloat(float64(rows)/sec, 'f', 1, 64))
	}
}

// Score logs a final metric channel:name, e.g. test:msd:
//
//	#quality_metric: host=algo-1, test msd <loss>=0.0133
//	#test_score (algo-1) : ('msd', 0.0133)
//	#metrics {"Metrics": {"test_msd": {...}}, "EndTime": ..., "StartTime": ...}
func (m *metrics) Score(channel, name string, value float64) {
	v := formatValue(value)
	m.log.infof("#quality_metric: host=%s, %s %s <%s>=%s", m.host, channel, name, kindOf(name), v)
	m.log.infof("#%s_score (%s) : ('%s', %s)", channel, m.host, name, v)
	m.log.raw(metricsJSON(channel+"_"+name, value, m.start, m.log.now()))
}

// kindOf says how the built-in algorithms label a metric in #quality_metric
// lines: <loss> for what is minimised (msd, mse, rmse, objective_loss, ...),
// <score> for what is maximised (accuracy, precision, recall, f_beta, ...).
func kindOf(name string) string {
	switch name {
	case "msd", "ssd", "mse", "rmse", "mae", "perplexity":
		return "loss"
	}
	// The linear learner's own log names its losses "…_objective"
	// (binary_classification_cross_entropy_objective, mse_objective).
	if strings.Contains(name, "loss") || strings.Contains(name, "error") || strings.HasSuffix(name, "_objective") {
		return "loss"
	}
	return "score"
}

// finish erases the progress line at the end of the run.
func (m *metrics) finish() {
	m.log.mu.Lock()
	m.log.clearProgress()
	m.log.mu.Unlock()
}

// formatValue prints a metric value as the built-in algorithms' Python
// prints a float: the shortest text that reads back exactly, with a decimal
// point (1.0, 0.0133, 1.5e-07, 123456789.0).
func formatValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return string(data.AppendPythonFloat(nil, v))
}

// jsonValue is formatValue with Python's json spellings of the non-finite
// values.
func jsonValue(v float64) string {
	if s, ok := data.PythonJSONNonFinite(v); ok {
		return s
	}
	return formatValue(v)
}

// metricsJSON formats one #metrics line for a single observation.
func metricsJSON(key string, v float64, start, end time.Time) string {
	j := jsonValue(v)
	return fmt.Sprintf(`#metrics {"Metrics": {%s: {"sum": %s, "count": 1, "min": %s, "max": %s}}, "EndTime": %s, "StartTime": %s}`,
		strconv.Quote(key), j, j, j, unixSeconds(end), unixSeconds(start))
}

// unixSeconds formats t as seconds since the epoch with millisecond
// precision, e.g. 1763720133.123.
func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

package main

// PNG charts next to the results: per algorithm, time and quality of ours
// against the peer side by side; learning curves of the trainers that
// iterate (k-means, linear learner); serving
// throughput; kernel GFLOP/s. Drawn with gonum.org/v1/plot.

import (
	"context"
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
)

var (
	colOurs  = color.RGBA{R: 0x2b, G: 0x6c, B: 0xb0, A: 0xff}
	colPeer  = color.RGBA{R: 0xe0, G: 0x7b, B: 0x39, A: 0xff}
	colOther = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
)

// LearningPoint is a test metric after some epochs.
type LearningPoint struct {
	Epochs int     `json:"epochs"`
	Value  float64 `json:"value"`
	WallS  float64 `json:"wall_s"`
}

// LearningCurve is one iterating trainer's test metric against epochs:
// one fresh training per point, headline settings otherwise, next to the
// peer's figure for the same metric.
type LearningCurve struct {
	Algorithm string          `json:"algorithm"` // the row's algorithm, e.g. "k-means"
	Title     string          `json:"title"`
	Metric    string          `json:"metric"` // e.g. "test msd"
	Lower     bool            `json:"lower_is_better"`
	Points    []LearningPoint `json:"points"`
	Peer      float64         `json:"peer"`
	PeerLabel string          `json:"peer_label"`
	How       string          `json:"how"`
}

// curveSpec says how to draw one learning curve.
type curveSpec struct {
	algorithm, bin, title, peerLabel string
	hyper                            map[string]string
	epochs                           []int
	logMetric, metric                string // the log's name, the table's name
	lower                            bool
}

// curveSpecs: the trainers that iterate over epochs, on Fashion-MNIST.
var curveSpecs = []curveSpec{
	{algorithm: "k-means", bin: "kmeans", title: "k-means on Fashion-MNIST: test msd vs epochs", peerLabel: "scikit-learn KMeans (converged)",
		hyper: kmeansHeadline, epochs: []int{1, 2, 4, 8}, logMetric: "test msd", metric: "test msd", lower: true},
	{algorithm: "linear-learner", bin: "linear-learner", title: "linear learner on Fashion-MNIST: test accuracy vs epochs", peerLabel: "scikit-learn LogisticRegression",
		hyper: llFashionHeadline, epochs: []int{1, 2, 4, 8, 15}, logMetric: "test multiclass_accuracy", metric: "test accuracy"},
}

// learningCurves trains each iterating algorithm whose headline row ran
// with each point's epochs on the cached RecordIO channels and reads its
// test metric from the log.
func learningCurves(e *env, rows []Row) ([]*LearningCurve, error) {
	dataDir := filepath.Join(e.DataDir, "fashion-mnist")
	trainRec, testRec := abs(filepath.Join(dataDir, "train.rec")), abs(filepath.Join(dataDir, "test.rec"))
	var out []*LearningCurve
	for _, sp := range curveSpecs {
		var head *Row
		for i := range rows {
			if rows[i].Algorithm == sp.algorithm && rows[i].Headline {
				head = &rows[i]
				break
			}
		}
		if head == nil {
			continue
		}
		if !exists(trainRec) || !exists(testRec) {
			return out, fmt.Errorf("no %s: run the %s benchmark first", trainRec, sp.algorithm)
		}
		lc := &LearningCurve{
			Algorithm: sp.algorithm, Title: sp.title, Metric: sp.metric, Lower: sp.lower,
			Peer: head.Peer.Quality[sp.metric], PeerLabel: sp.peerLabel,
			How: fmt.Sprintf("one fresh `bin/%s train` per point with epochs=%s (headline hyperparameters otherwise); %s from each log",
				sp.bin, strings.Trim(strings.Join(strings.Fields(fmt.Sprint(sp.epochs)), ","), "[]"), sp.metric),
		}
		root := abs(filepath.Join(e.WorkDir, sp.bin+"-curve", "ml"))
		for _, ep := range sp.epochs {
			h := maps.Clone(sp.hyper)
			h["epochs"] = strconv.Itoa(ep)
			os.RemoveAll(root)
			err := harness.LayoutRoot(root, h, []harness.Channel{
				{Name: "train", ContentType: harness.RecordIOProtobuf, Files: []string{trainRec}},
				{Name: "test", ContentType: harness.RecordIOProtobuf, Files: []string{testRec}},
			})
			if err != nil {
				return out, err
			}
			os.MkdirAll(filepath.Join(root, "model"), 0o755)
			res, err := harness.Train(context.Background(), abs(filepath.Join(e.BinDir, sp.bin)), root, nil)
			if err != nil {
				return out, err
			}
			v, ok := res.Metrics[sp.logMetric]
			if !ok {
				return out, fmt.Errorf("%s epochs=%d: no %s in the log", sp.algorithm, ep, sp.logMetric)
			}
			lc.Points = append(lc.Points, LearningPoint{Epochs: ep, Value: v, WallS: res.Wall.Seconds()})
			fmt.Printf("   %s epochs=%d: %s %.4f, wall %.2fs\n", sp.algorithm, ep, sp.metric, v, res.Wall.Seconds())
		}
		out = append(out, lc)
	}
	return out, nil
}

// barPanel is a two-or-more bar chart: one bar per (name, value, color).
func barPanel(title, ylabel string, names []string, vals []float64, cols []color.Color) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	for i, v := range vals {
		bc, err := plotter.NewBarChart(plotter.Values{v}, vg.Points(40))
		if err != nil {
			return nil, err
		}
		bc.XMin = float64(i)
		bc.Color = cols[i]
		bc.LineStyle.Width = 0
		p.Add(bc)
		lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: float64(i), Y: v}}, Labels: []string{short(v)}})
		if err == nil {
			lbl.Offset = vg.Point{X: -vg.Points(10), Y: vg.Points(3)}
			p.Add(lbl)
		}
	}
	p.NominalX(names...)
	p.Y.Max *= 1.15
	return p, nil
}

func short(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// savePanels writes plots side by side into one PNG.
func savePanels(path string, w, h vg.Length, plots ...*plot.Plot) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeCharts draws every chart for r into dir and returns the paths.
func writeCharts(r *Report, dir string) ([]string, error) {
	var paths []string
	seen := map[string]bool{}
	for _, row := range r.Rows {
		if !row.Headline || seen[row.Algorithm] {
			continue
		}
		seen[row.Algorithm] = true
		names := []string{"sagebrush", row.Peer.Name}
		cols := []color.Color{colOurs, colPeer}
		tp, err := barPanel(row.Algorithm+": time (s)", "seconds, lower is better", names, []float64{row.Ours.TimeS, row.Peer.TimeS}, cols)
		if err != nil {
			return paths, err
		}
		panels := []*plot.Plot{tp}
		for _, q := range row.Metrics[:min(2, len(row.Metrics))] {
			qp, err := barPanel(row.Algorithm+": "+q, q, names, []float64{row.Ours.Quality[q], row.Peer.Quality[q]}, cols)
			if err != nil {
				return paths, err
			}
			panels = append(panels, qp)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", r.Date, slug(row.Algorithm)))
		if err := savePanels(path, vg.Length(len(panels))*3.3*vg.Inch, 3.3*vg.Inch, panels...); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	for _, lc := range r.LearningCurves {
		if len(lc.Points) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = lc.Title
		p.X.Label.Text = "epochs"
		p.Y.Label.Text = lc.Metric + " (higher is better)"
		if lc.Lower {
			p.Y.Label.Text = lc.Metric + " (lower is better)"
		}
		xys := make(plotter.XYs, len(lc.Points))
		for i, pt := range lc.Points {
			xys[i] = plotter.XY{X: float64(pt.Epochs), Y: pt.Value}
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return paths, err
		}
		line.Color, pts.Color = colOurs, colOurs
		p.Add(line, pts)
		p.Legend.Add("sagebrush "+lc.Algorithm, line, pts)
		if lc.Peer > 0 {
			pl, err := plotter.NewLine(plotter.XYs{{X: 1, Y: lc.Peer}, {X: float64(lc.Points[len(lc.Points)-1].Epochs), Y: lc.Peer}})
			if err == nil {
				pl.Color = colPeer
				pl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				p.Add(pl)
				p.Legend.Add(lc.PeerLabel, pl)
			}
		}
		p.Legend.Top = lc.Lower
		p.Add(plotter.NewGrid())
		path := filepath.Join(dir, fmt.Sprintf("%s-%s-learning-curve.png", r.Date, slug(lc.Algorithm)))
		if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	if s := r.Serving; s != nil {
		var panels []*plot.Plot
		for _, body := range []string{body1, body100} {
			var names []string
			var vals []float64
			var cols []color.Color
			for _, srv := range []struct {
				name, label string
				c           color.Color
			}{{srvOurs, "sagebrush", colOurs}, {srvPeer, "sklearn+gunicorn", colPeer}, {srvTrivial, "trivial (ceiling)", colOther}} {
				if res := s.find(srv.name, body); res != nil {
					names, vals, cols = append(names, srv.label), append(vals, res.RPS), append(cols, srv.c)
				}
			}
			if len(vals) == 0 {
				continue
			}
			p, err := barPanel(fmt.Sprintf("/invocations, %s: req/s", body), "requests/s, higher is better", names, vals, cols)
			if err != nil {
				return paths, err
			}
			panels = append(panels, p)
		}
		if lp, err := latencyPanel(s); err != nil {
			return paths, err
		} else if lp != nil {
			panels = append(panels, lp)
		}
		if len(panels) > 0 {
			path := filepath.Join(dir, r.Date+"-serving.png")
			if err := savePanels(path, vg.Length(len(panels))*4*vg.Inch, 3.5*vg.Inch, panels...); err != nil {
				return paths, err
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// latencyPanel plots p99 against requests/s of each server's 1-row loads,
// one point per connection count (labelled), with the 2 ms target: the load a server
// carries within the latency objective. Log scales: the servers are 10×
// apart.
func latencyPanel(s *ServingReport) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "/invocations, 1 row: p99 vs req/s"
	p.X.Label.Text = "requests/s (log)"
	p.Y.Label.Text = "p99 ms (log), lower is better"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	lo, hi := math.Inf(1), 0.0
	for _, srv := range []struct {
		name, label string
		c           color.Color
	}{{srvOurs, "sagebrush", colOurs}, {srvPeer, "sklearn+gunicorn", colPeer}} {
		var loads []*ServingLoad
		for i := range s.Loads {
			if l := &s.Loads[i]; l.Server == srv.name && oneRow(l) && l.Result.RPS > 0 && l.Result.P99Ms > 0 {
				loads = append(loads, l)
			}
		}
		if len(loads) == 0 {
			continue
		}
		// In order of connections, each point labelled with its count.
		sort.Slice(loads, func(i, j int) bool { return loads[i].Conns < loads[j].Conns })
		xys := make(plotter.XYs, len(loads))
		labels := make([]string, len(loads))
		for i, l := range loads {
			xys[i] = plotter.XY{X: l.Result.RPS, Y: l.Result.P99Ms}
			labels[i] = strconv.Itoa(l.Conns)
			lo, hi = min(lo, l.Result.RPS), max(hi, l.Result.RPS)
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, pts.Color = srv.c, srv.c
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, err
		}
		p.Add(line, pts, lab)
		p.Legend.Add(srv.label, line, pts)
	}
	if hi == 0 {
		return nil, nil
	}
	target, err := plotter.NewLine(plotter.XYs{{X: lo, Y: 2}, {X: hi, Y: 2}})
	if err != nil {
		return nil, err
	}
	target.Color = colOther
	target.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(target, plotter.NewGrid())
	p.Legend.Add("p99 target 2 ms", target)
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

// slug is s in lower case with every run of other characters one dash:
// "k-means (sparse)" is k-means-sparse.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

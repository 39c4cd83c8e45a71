package main_test

import (
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
	"github.com/sagebrush-ml/sagebrush/recordio/recordiotest"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// topicRecords is n sparse RecordIO records of d features, as the SDK's
// write_spmatrix_to_sparse_tensor writes them (keys, values, shape [d]):
// record i belongs to topic i mod 3 and stores four of its topic's ten
// features, 10·topic to 10·topic+9, and a noise feature past 30.
func topicRecords(t testing.TB, n, d int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	recs := make([]*aialgs.Record, n)
	for i := range recs {
		tp := i % 3
		set := map[uint64]bool{}
		for len(set) < 4 {
			set[uint64(10*tp+rng.IntN(10))] = true
		}
		set[uint64(30+rng.IntN(d-30))] = true
		keys := slices.Sorted(maps.Keys(set))
		vals := make([]float32, len(keys))
		for j := range vals {
			vals[j] = 1
		}
		recs[i] = &aialgs.Record{Features: map[string]*aialgs.Value{"values": recordiotest.Float32(vals, keys, []uint64{uint64(d)})}}
	}
	return recordiotest.Records(t, recs...)
}

// TestSparseRecordIO trains the binary on sparse RecordIO records of
// 20,000 features, File and Pipe mode, and serves the model: sparse
// RecordIO requests get one cluster per topic, the same for every record
// of a topic, and the log reports a test msd.
func TestSparseRecordIO(t *testing.T) {
	t.Parallel()
	const d = 20_000
	for _, mode := range []string{"File", "Pipe"} {
		t.Run(mode, func(t *testing.T) {
			train, test := topicRecords(t, 600, d, 1), topicRecords(t, 30, d, 2)
			ch := func(b []byte) trainertest.Channel {
				return trainertest.Channel{ContentType: "application/x-recordio-protobuf", Mode: mode, Files: map[string][]byte{"part-0.rec": b}}
			}
			root := trainertest.NewOptML(t, map[string]string{"k": "3", "feature_dim": strconv.Itoa(d), "mini_batch_size": "100",
				"init_method": "kmeans++"}, map[string]trainertest.Channel{"train": ch(train), "test": ch(test)})
			if mode == "Pipe" {
				trainertest.ServePipe(t, root, "train", 0, train)
				trainertest.ServePipe(t, root, "test", 0, test)
			}
			r := clitest.Train(t, binary, root)
			if r.Code != 0 {
				f, _ := trainertest.Failure(t, root)
				t.Fatalf("exit code %d; failure file %q\n%s", r.Code, f, r.Log())
			}
			if msd, ok := testMetrics(t, r.Log())["msd"]; !ok || !(msd > 0) {
				t.Errorf("test msd %v (reported: %v)\n%s", msd, ok, r.Log())
			}
			s := clitest.StartServer(t, binary, root, clitest.FreePort(t))
			resp := s.Post(t, "/invocations", "application/x-recordio-protobuf", "application/jsonlines", test)
			if resp.Status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			p := decodePredictions(t, "application/jsonlines", resp.Body)
			if len(p) != 30 {
				t.Fatalf("%d predictions, want 30", len(p))
			}
			cluster := map[int]float64{}
			seen := map[float64]bool{}
			for i, q := range p {
				tp := i % 3
				if c, ok := cluster[tp]; ok && c != q.cluster {
					t.Fatalf("record %d of topic %d in cluster %v, the topic's first in %v", i, tp, q.cluster, c)
				}
				if _, ok := cluster[tp]; !ok {
					if seen[q.cluster] {
						t.Fatalf("topic %d shares cluster %v with another topic", tp, q.cluster)
					}
					cluster[tp], seen[q.cluster] = q.cluster, true
				}
			}
		})
	}
}

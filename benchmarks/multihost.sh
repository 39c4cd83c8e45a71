#!/usr/bin/env bash
# Two-host run of one algorithm on this machine, against one host on the
# whole data: the figures of the "Multi-host" paragraphs of
# docs/algorithms/{pca,knn,linear-learner}.md.
#
#   benchmarks/multihost.sh ALGO ML_ROOT [TEST_RECORDS]
#
# ML_ROOT is a benchmark ml root left by `make bench` (e.g.
# benchmarks/work/pca-regular/ml) whose train channel is one RecordIO file of
# fixed-size records, as the benchmark's converter writes them. Its halves go
# to hosts 127.0.0.1 and 127.0.0.2 (cut at a record boundary); TEST_RECORDS,
# when given, keeps that many test records on every host. Both hosts run at
# once on this machine's cores; prints each run's wall time and the lines
# of each log that carry the result, and leaves everything under $WORK (default /tmp/multihost-ALGO).
set -euo pipefail
algo=$1 src=$2 test_records=${3:-}
bin=${BIN:-bin}/$algo
work=${WORK:-/tmp/multihost-$algo}
train=$(ls "$src"/input/data/train/*)
[ "$(echo "$train" | wc -l)" = 1 ] || { echo "want one train file in $src/input/data/train" >&2; exit 2; }

# RecordIO: magic, then a 32-bit word whose low 29 bits are the length;
# records are padded to 4 bytes.
len=$(( $(od -An -tu4 -j4 -N4 "$train") & 0x1fffffff ))
rec=$(( 8 + (len + 3) / 4 * 4 ))
size=$(stat -c %s "$train")
(( size % rec == 0 )) || { echo "$train: records are not all $rec bytes" >&2; exit 2; }
half=$(( size / rec / 2 * rec ))

rm -rf "$work"
for h in one h1 h2; do
	mkdir -p "$work/$h/input/config" "$work/$h/input/data/train" "$work/$h/model" "$work/$h/output"
	cp "$src"/input/config/*.json "$work/$h/input/config/"
	if [ -d "$src/input/data/test" ]; then
		mkdir -p "$work/$h/input/data/test"
		t=$(ls "$src"/input/data/test/*)
		if [ -n "$test_records" ]; then
			head -c $(( test_records * rec )) "$t" > "$work/$h/input/data/test/test.rec"
		else
			ln "$t" "$work/$h/input/data/test/test.rec"
		fi
	fi
done
ln "$train" "$work/one/input/data/train/"
head -c "$half" "$train" > "$work/h1/input/data/train/part-0.rec"
tail -c +$(( half + 1 )) "$train" > "$work/h2/input/data/train/part-1.rec"
for i in 1 2; do
	printf '{"current_host":"127.0.0.%d","hosts":["127.0.0.1","127.0.0.2"]}\n' $i > "$work/h$i/input/config/resourceconfig.json"
done

/usr/bin/time -f "one host: %e s wall, %U s user" "$bin" train --ml-root "$work/one" > "$work/one.log" 2>&1
export SAGEBRUSH_CLUSTER_PORT=${SAGEBRUSH_CLUSTER_PORT:-17651}
/usr/bin/time -f "host 2: %e s wall, %U s user" "$bin" train --ml-root "$work/h2" > "$work/h2.log" 2>&1 &
/usr/bin/time -f "host 1: %e s wall, %U s user" "$bin" train --ml-root "$work/h1" > "$work/h1.log" 2>&1
wait
for l in one h1 h2; do
	echo "== $l"
	grep -E 'explained variance|test [a-z_]*accuracy <score>|test mse|merged the samples|scaler fitted|Q₀ from|received the|training completed' "$work/$l.log" | sed 's/^\[[^]]*\] //' || true
done
echo "models: $(ls "$work"/one/model) (one host), $(ls "$work"/h1/model) (leader), $(ls "$work"/h2/model | wc -l) files (host 2)"

#!/usr/bin/env bash
# Field queries side by side: logengine against VictoriaLogs on the same 1M logs, in one run.
#
#   cmd/loadgen/fieldqueries.sh DIR
#
# DIR is the 1M-log data directory the search benchmarks build
# (LOGENGINE_BENCH_1M=1 LOGENGINE_BENCH_DIR=DIR go test ./search -run TestEngineLatency1M).
# A copy of it is served by logengine; every entry is exported from it as NDJSON
# (GET /api/v1/export), its fields lifted to the top level, and loaded into a fresh
# VictoriaLogs (/insert/jsonline, one stream per source, 10,000 lines per request).
# Then each query of the field-queries table runs N times (default 9) against each daemon,
# over HTTP on loopback, one after the other, and the median of curl's time_total is printed.
# Both daemons answer the same questions (the script prints both answers of two of them).
#
# With QUERIES=day it runs the blocks issue's queries instead (a word, level:error over an hour,
# counts and histograms over the day, a phrase, two needles, a common word counted by level); DIR
# may then be a day of any size, such as the 12M-log day (LOGENGINE_BENCH_LOGS=12000000), whose
# request-id needle is read from DIR/complete.
#
# Environment (all optional):
#   N              runs per query (default 9)
#   LE_BIN, VL_BIN binaries (default /tmp/logengine, /tmp/victoria-logs; see sidebyside.sh)
#   WORK           scratch directory (default /tmp/fieldqueries; emptied first)
#   QUERIES        field (default) or day
#   VL_DATA        a VictoriaLogs data directory already loaded with DIR's entries by an earlier
#                  run (its WORK/vl, moved out of WORK): used as it is, nothing exported or loaded
set -euo pipefail

DIR=${1:?usage: cmd/loadgen/fieldqueries.sh DIR (a 1M-log benchmark data directory)}
N=${N:-9}
LE_BIN=${LE_BIN:-/tmp/logengine}
VL_BIN=${VL_BIN:-/tmp/victoria-logs}
WORK=${WORK:-/tmp/fieldqueries}
QUERIES=${QUERIES:-field}
LE=127.0.0.1:18480
VL=127.0.0.1:19480
F=2026-11-26T00:00:00Z
T=2026-11-27T00:00:00Z

case "${VL_DATA:-}" in
"$WORK" | "$WORK"/*)
	echo "VL_DATA=$VL_DATA is inside WORK=$WORK, which is emptied first: move it out" >&2
	exit 2
	;;
esac
rm -rf "$WORK" && mkdir -p "$WORK"
cp -r "$DIR" "$WORK/le"
"$LE_BIN" serve --data-dir "$WORK/le" --listen $LE --retention 0 >"$WORK/le.log" 2>&1 &
le_pid=$!
"$VL_BIN" -storageDataPath="${VL_DATA:-$WORK/vl}" -httpListenAddr=$VL -retentionPeriod=100y >"$WORK/vl.log" 2>&1 &
vl_pid=$!
trap 'kill $le_pid $vl_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -sf "http://$LE/readyz" >/dev/null && curl -sf "http://$VL/health" >/dev/null && break
	sleep 0.2
done

if [ -z "${VL_DATA:-}" ]; then
curl -sf "http://$LE/api/v1/export?format=ndjson" |
	python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    r = {"_time": e["timestamp"], "_msg": e["message"], "level": e["level"], "source": e["source"]}
    r.update(e.get("fields") or {})
    print(json.dumps(r))
' >"$WORK/vl.ndjson"
split -l 10000 "$WORK/vl.ndjson" "$WORK/part_"
for p in "$WORK"/part_*; do
	curl -sf -X POST -H 'Content-Type: application/stream+json' -T "$p" "http://$VL/insert/jsonline?_stream_fields=source" >/dev/null
done
curl -sf "http://$VL/internal/force_flush" >/dev/null
fi
# Both daemons settle first: VictoriaLogs merges its parts, logengine its
# small blocks (until its merge counter stops moving).
merged() { curl -sf "http://$LE/metrics" | awk '$1 == "logengine_blocks_merged_total" {print $2}'; }
prev=-1
cur=$(merged)
while [ "$cur" != "$prev" ]; do
	prev=$cur
	sleep 3
	cur=$(merged)
done
echo "logengine merged blocks: $cur"
entries=$(curl -sf "http://$LE/api/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries_total"])')
echo "entries: logengine $entries," \
	"VictoriaLogs $(curl -sf "http://$VL/select/logsql/query" --data-urlencode 'query=* | stats count() c')"

# A trace id from the middle of the day, for the needle: the 654,322nd
# entry's, as the 1M-log tables took it, or the middle one of a smaller day.
at=$((entries < 654322 ? entries / 2 + 1 : 654322))
if [ -z "${VL_DATA:-}" ]; then
	line=$(sed -n "${at}p" "$WORK/vl.ndjson")
else
	# sed stops reading at the line, which stops curl (a write error, not a failure here).
	line=$({ curl -sf "http://$LE/api/v1/export?format=ndjson" || true; } | sed -n "${at}{p;q}")
fi
trace=$(printf '%s\n' "$line" | python3 -c 'import json,sys; e = json.load(sys.stdin); print(e.get("trace_id") or e["fields"]["trace_id"])')

median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }
# FROM and TO narrow the range of one query (default: the whole day).
le() { # path, then curl arguments
	local path=$1
	shift
	for _ in $(seq "$N"); do
		curl -s -o /dev/null -w '%{time_total}\n' -G "http://$LE$path" --data-urlencode "from=${FROM:-$F}" --data-urlencode "to=${TO:-$T}" "$@"
	done | awk '{print $1*1000}' | median
}
vl() { # LogsQL after the time filter
	for _ in $(seq "$N"); do
		curl -s -o /dev/null -w '%{time_total}\n' "http://$VL/select/logsql/query" --data-urlencode "query=_time:[${FROM:-$F}, ${TO:-$T}) $1"
	done | awk '{print $1*1000}' | median
}
row() { # name, logengine ms, VictoriaLogs ms
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {printf "| %s | %s ms | %s ms | %.2f |\n", n, a, b, a / b}'
}

if [ "$QUERIES" = day ]; then
	needle=$(cut -d' ' -f2 "$DIR/complete")
	echo
	echo "request id $needle:"
	# head stops reading, which stops curl: a write error, not a failure here.
	{ curl -s -G "http://$LE/api/v1/logs" --data-urlencode "q=$needle" --data-urlencode from=$F --data-urlencode to=$T || true; } | head -c 300
	echo
	{ curl -s "http://$VL/select/logsql/query" --data-urlencode "query=_time:[$F, $T) $needle" || true; } | head -c 300
	echo
	echo "database, by level:"
	curl -s -G "http://$LE/api/v1/aggregate" --data-urlencode q=database --data-urlencode group_by=level --data-urlencode from=$F --data-urlencode to=$T
	echo
	curl -s "http://$VL/select/logsql/query" --data-urlencode "query=_time:[$F, $T) database | stats by (level) count() c"
	echo
	echo "| query | logengine | VictoriaLogs | ratio |"
	echo "| --- | --- | --- | --- |"
	row "(a) \`11\`, newest 100" "$(le /api/v1/logs --data-urlencode q=11 --data-urlencode limit=100)" "$(vl '11 | sort by (_time desc) | limit 100')"
	FROM=2026-11-26T12:00:00Z TO=2026-11-26T13:00:00Z
	row "(b) \`level:error\` over one hour, newest 100" "$(le /api/v1/logs --data-urlencode q=level:error --data-urlencode limit=100)" "$(vl 'level:=error | sort by (_time desc) | limit 100')"
	FROM= TO=
	row "(c) count by level" "$(le /api/v1/aggregate --data-urlencode group_by=level)" "$(vl '* | stats by (level) count() c')"
	row "(d) 5-minute histogram" "$(le /api/v1/histogram --data-urlencode interval=5m)" "$(vl '* | stats by (_time:5m) count() c')"
	row "(e) top 10 sources among errors" "$(le /api/v1/aggregate --data-urlencode q=level:error --data-urlencode group_by=source --data-urlencode limit=10)" "$(vl 'level:=error | stats by (source) count() c | sort by (c desc) | limit 10')"
	row "(f) \`\"connection reset by peer\"\`, newest 100" "$(le /api/v1/logs --data-urlencode 'q="connection reset by peer"' --data-urlencode limit=100)" "$(vl '"connection reset by peer" | sort by (_time desc) | limit 100')"
	row "(j) one \`trace_id\` (a needle)" "$(le /api/v1/logs --data-urlencode "q=trace_id:$trace")" "$(vl "trace_id:=\"$trace\"")"
	row "(n) one request id in a message (a needle)" "$(le /api/v1/logs --data-urlencode "q=$needle" --data-urlencode limit=100)" "$(vl "$needle | sort by (_time desc) | limit 100")"
	row "(k) \`database\` (10% of logs), counted by level" "$(le /api/v1/aggregate --data-urlencode q=database --data-urlencode group_by=level)" "$(vl 'database | stats by (level) count() c')"
	exit 0
fi

echo
echo "status>=500, top 10 hosts:"
curl -s -G "http://$LE/api/v1/aggregate" --data-urlencode 'q=status>=500' --data-urlencode group_by=host --data-urlencode limit=3 --data-urlencode from=$F --data-urlencode to=$T
echo
curl -s "http://$VL/select/logsql/query" --data-urlencode "query=_time:[$F, $T) status:>=500 | stats by (host) count() c | sort by (c desc) | limit 3"
echo
echo "| query | logengine | VictoriaLogs | ratio |"
echo "| --- | --- | --- | --- |"
row "one entry by \`trace_id\`" "$(le /api/v1/logs --data-urlencode "q=trace_id:$trace")" "$(vl "trace_id:=\"$trace\"")"
row "\`group_by=trace_id&limit=10\` (1M distinct)" "$(le /api/v1/aggregate --data-urlencode group_by=trace_id --data-urlencode limit=10)" "$(vl '* | stats by (trace_id) count() c | sort by (c desc) | limit 10')"
row "\`status>=500\`, top 10 hosts" "$(le /api/v1/aggregate --data-urlencode 'q=status>=500' --data-urlencode group_by=host --data-urlencode limit=10)" "$(vl 'status:>=500 | stats by (host) count() c | sort by (c desc) | limit 10')"
row "\`host:web-7 status:404\` by level" "$(le /api/v1/aggregate --data-urlencode 'q=host:web-7 status:404' --data-urlencode group_by=level --data-urlencode limit=10)" "$(vl 'host:="web-7" status:=404 | stats by (level) count() c')"
row "histogram \`interval=1h&group_by=host\`" "$(le /api/v1/histogram --data-urlencode interval=1h --data-urlencode group_by=host)" "$(vl '* | stats by (_time:1h, host) count() c')"
row "\`latency_ms>400\`, newest 100" "$(le /api/v1/logs --data-urlencode 'q=latency_ms>400' --data-urlencode limit=100)" "$(vl 'latency_ms:>400 | sort by (_time desc) | limit 100')"
row "\`-level:info source:db-2\`, newest 100" "$(le /api/v1/logs --data-urlencode 'q=-level:info source:db-2' --data-urlencode limit=100)" "$(vl '-level:info source:db-2 | sort by (_time desc) | limit 100')"

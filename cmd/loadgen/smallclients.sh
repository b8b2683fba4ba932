#!/usr/bin/env bash
# Many small clients: each posts one log per request (as unbatched application
# loggers, serverless functions and scripts do), to logengine and then to
# VictoriaLogs, for each client count.
#
#   cmd/loadgen/smallclients.sh [CLIENTS...]     default: 1 8 64 256
#
# Each daemon runs alone on a fresh data directory, loopback only, and gets the same lines
# (cmd/loadgen, seed 1). Per client count, loadgen sends for about SECONDS seconds (it sends a
# fixed number of logs: SECONDS x the rate of a short probe run), and prints its figures:
# acknowledged logs/s (a logengine 200 is fsync'd; VictoriaLogs acknowledges before its data is
# durable), request latency p50/p99, and the 429/503 answers.
#
# Environment: LE_BIN, VL_BIN, LOADGEN_BIN (default /tmp/logengine, /tmp/victoria-logs,
# /tmp/loadgen; logengine and loadgen are rebuilt from this tree unless REBUILD=0), SECONDS_EACH
# (default 15), ONLY=le|vl.
set -u -o pipefail

CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=(1 8 64 256)
SECONDS_EACH=${SECONDS_EACH:-15}
LE_BIN=${LE_BIN:-/tmp/logengine}
VL_BIN=${VL_BIN:-/tmp/victoria-logs}
LOADGEN_BIN=${LOADGEN_BIN:-/tmp/loadgen}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
LE_ADDR=127.0.0.1:18180
VL_ADDR=127.0.0.1:9428
VL_INGEST_ARGS='_msg_field=message&_time_field=timestamp&_stream_fields=source,host'
WORK=/tmp/smallclients

die() { echo "smallclients: $*" >&2; exit 1; }

PID=
stop() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$PID" 2>/dev/null
	fi
	PID=
}
trap stop EXIT
trap 'exit 130' INT TERM

if [ "${REBUILD:-1}" != 0 ] || [ ! -x "$LE_BIN" ] || [ ! -x "$LOADGEN_BIN" ]; then
	(cd "$SRC" && go build -o "$LE_BIN" ./cmd/logengine && go build -o "$LOADGEN_BIN" ./cmd/loadgen) ||
		die "cannot build logengine or loadgen"
fi

wait_ready() { # url
	for _ in $(seq 150); do curl -sf --max-time 1 "$1" >/dev/null && return 0; sleep 0.2; done
	die "$1 did not answer"
}

# run server clients: a short probe gives the rate, then a run of about SECONDS_EACH seconds.
run() {
	local server=$1 c=$2 rate total
	rate=$("$LOADGEN_BIN" --server "$server" --batch 1 --concurrency "$c" --total $(( c * 50 )) --pool 64 |
		awk '/^acknowledged/{for(i=1;i<=NF;i++) if($i=="logs/s,") print int($(i-1))}')
	total=$(( ${rate:-1000} * SECONDS_EACH ))
	[ "$total" -ge $(( c * 10 )) ] || total=$(( c * 10 ))
	echo "-- $c clients, $total logs"
	"$LOADGEN_BIN" --server "$server" --batch 1 --concurrency "$c" --total "$total" --pool 64 |
		grep -E '^(acknowledged|request latency|429/503)'
}

if [ "${ONLY:-le}" = le ]; then
	rm -rf "$WORK/le" && mkdir -p "$WORK"
	"$LE_BIN" serve --data-dir "$WORK/le" --retention 0 --listen "$LE_ADDR" >"$WORK/logengine.log" 2>&1 &
	PID=$!
	wait_ready "http://$LE_ADDR/readyz"
	echo "== logengine ($("$LE_BIN" version 2>/dev/null | head -1))"
	for c in "${CLIENTS[@]}"; do run "http://$LE_ADDR" "$c"; done
	stop
fi
if [ "${ONLY:-vl}" = vl ]; then
	[ -x "$VL_BIN" ] || die "$VL_BIN missing: build VictoriaLogs (see PERFORMANCE notes in the README)"
	rm -rf "$WORK/vl" && mkdir -p "$WORK"
	"$VL_BIN" -storageDataPath="$WORK/vl" -httpListenAddr="$VL_ADDR" -retentionPeriod=100y >"$WORK/victoria-logs.log" 2>&1 &
	PID=$!
	wait_ready "http://$VL_ADDR/health"
	echo "== VictoriaLogs ($("$VL_BIN" -version 2>/dev/null | head -1))"
	# loadgen appends its path to --server; a dummy argument swallows it.
	for c in "${CLIENTS[@]}"; do run "http://$VL_ADDR/insert/jsonline?$VL_INGEST_ARGS&lg_path=" "$c"; done
	stop
fi

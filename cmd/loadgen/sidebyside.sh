#!/usr/bin/env bash
# Side-by-side ingest run: logengine against VictoriaLogs on the same lines.
#
#   cmd/loadgen/sidebyside.sh [N]            N lines (default 2000000), 2 clients, 1,000-line batches
#
# Each daemon runs alone, one after the other, on a fresh data directory, on loopback only.
# Lines come from the project's load generator (cmd/loadgen, seed 1), so both daemons get the
# same lines (timestamps are re-based on the start of each run, over the 24 h before it).
# loadgen has no VictoriaLogs protocol: it always appends its protocol's path (/api/v1/logs for
# ndjson) to --server, so VictoriaLogs gets --server ".../insert/jsonline?<ingest args>&lg_path="
# and the appended path lands in an argument VictoriaLogs ignores.
# logengine also gets a line saying when its keyword index caught up (index lag 0); searches
# there find unindexed entries by checking them directly, so "found" can come before that.
#
# Figures, per daemon:
#   acknowledged lines/s  loadgen's own count: lines acknowledged / time from its first request
#                         to its last acknowledgement (generation of the lines is not timed)
#   searchable lines/s    lines / (loadgen's acknowledged time + time from loadgen's exit until
#                         a unique last line, posted right after, is found by a word search AND
#                         a count over all time returns every line)
#   CPU-s per 1M lines    daemon utime+stime (/proc/<pid>/stat) from just before loadgen starts
#                         until the searchable moment, per million lines; the same until the stop
#                         request is printed too
#   peak RSS              VmHWM (/proc/<pid>/status) read just before the stop request; the RSS of
#                         that moment is printed split into anonymous memory and mapped file pages
#   disk B per line       du (allocated blocks) of the data directory after a clean stop (SIGTERM,
#                         process exited by itself) / lines stored
#
# Environment (all optional):
#   POOL=k            distinct 1,000-line batches loadgen pre-generates and cycles through
#                     (default N/1000: every line distinct; loadgen's own default is 64)
#   LOADGEN_TIMEOUT   seconds loadgen may run per daemon (default 60 + N/5000)
#   SEARCH_TIMEOUT    seconds to wait for the last line to become searchable (default 300)
#   STOP_TIMEOUT      seconds a daemon may take to stop cleanly before it is killed (default 180)
#   LE_BIN, VL_BIN, LOADGEN_BIN   binaries (default /tmp/logengine, /tmp/victoria-logs, /tmp/loadgen)
#   REBUILD=0         use the existing logengine and loadgen binaries instead of rebuilding them
#   ONLY=le|vl        run one daemon only
#   LE_DIR, VL_DIR, LOGDIR   data directories (removed before each run) and the directory of the
#                     daemons' and loadgen's logs (default /tmp/sbs-le, /tmp/sbs-vl, /tmp/sbs-logs),
#                     so that two runs on one machine do not share them
#   LE_ARGS           extra flags for `logengine serve` (e.g. --patterns=false)
set -u -o pipefail

N=${1:-2000000}
BATCH=1000
CONC=2
NB=$(( (N + BATCH - 1) / BATCH ))
POOL=${POOL:-$NB}
LOADGEN_TIMEOUT=${LOADGEN_TIMEOUT:-$(( 60 + N / 5000 ))}
SEARCH_TIMEOUT=${SEARCH_TIMEOUT:-300}
STOP_TIMEOUT=${STOP_TIMEOUT:-180}
LE_BIN=${LE_BIN:-/tmp/logengine}
VL_BIN=${VL_BIN:-/tmp/victoria-logs}
LOADGEN_BIN=${LOADGEN_BIN:-/tmp/loadgen}
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
LE_DIR=${LE_DIR:-/tmp/sbs-le}
VL_DIR=${VL_DIR:-/tmp/sbs-vl}
VL_ADDR=127.0.0.1:9428
VL_INGEST_ARGS='_msg_field=message&_time_field=timestamp&_stream_fields=source,host'
LOGDIR=${LOGDIR:-/tmp/sbs-logs}
HZ=$(getconf CLK_TCK)

die() { echo "sidebyside: $*" >&2; exit 1; }
now() { date +%s.%N; }
# true while fewer than $2 seconds have passed since $1
within() { awk -v a="$(date +%s.%N)" -v b="$1" -v l="$2" 'BEGIN{exit !(a-b < l)}'; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a-b}'; }
fadd() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a+b}'; }

# Go duration string (345ms, 1.5s, 2m3.4s, 850µs) to seconds.
go_dur() {
	awk -v s="$1" 'BEGIN{
		t = 0
		while (match(s, /^[0-9.]+(h|ms|µs|us|ns|m|s)/)) {
			tok = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1)
			num = tok + 0; unit = tok; sub(/^[0-9.]+/, "", unit)
			if (unit == "h") t += num * 3600; else if (unit == "m") t += num * 60
			else if (unit == "s") t += num; else if (unit == "ms") t += num / 1e3
			else if (unit == "ns") t += num / 1e9; else t += num / 1e6
		}
		printf "%.6f", t
	}'
}

cpu_ticks() { # utime+stime of a pid, in clock ticks
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $(( ${12} + ${13} ))
}

alive() { # running, not a zombie
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

vmhwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null; }
# RssAnon (heap and other private memory) and RssFile (pages of mapped files, such as
# Badger's memtable logs and tables, which the kernel may drop) at that moment, in MiB.
rss_split() { awk '/^RssAnon:/{a=$2} /^RssFile:/{f=$2} END{printf "anonymous %d MiB, mapped files %d MiB", a/1024, f/1024}' "/proc/$1/status" 2>/dev/null; }

port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

free_port() {
	local p
	for p in $(seq 18080 18999); do
		if port_free "$p"; then echo "$p"; return 0; fi
	done
	return 1
}

DAEMON_PID=
cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		sleep 2
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- binaries -------------------------------------------------------------------------------
# logengine and loadgen are rebuilt from the working tree of $SRC (into /tmp) unless REBUILD=0.
rev_of_src() {
	local r d=""
	r=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null) || { echo "?"; return; }
	git --no-optional-locks -C "$SRC" diff --quiet HEAD -- 2>/dev/null || d="+uncommitted changes"
	echo "$r$d"
}
if [ "${REBUILD:-1}" != 0 ] || [ ! -x "$LE_BIN" ] || [ ! -x "$LOADGEN_BIN" ]; then
	echo "building $LE_BIN and $LOADGEN_BIN from $SRC"
	rev=$(rev_of_src)
	(cd "$SRC" && go build -o "$LE_BIN" ./cmd/logengine && go build -o "$LOADGEN_BIN" ./cmd/loadgen) ||
		die "cannot build logengine or loadgen"
	echo "$rev" >"$LE_BIN.rev"
fi
[ -x "$VL_BIN" ] || die "$VL_BIN missing: build VictoriaLogs v1.26.0 from its repository (vendored, CGO_ENABLED=1, go build ./app/victoria-logs) and give its path in VL_BIN"
command -v jq >/dev/null || die "jq is needed"
command -v curl >/dev/null || die "curl is needed"
mkdir -p "$LOGDIR"

LE_VERSION="logengine $(cat "$LE_BIN.rev" 2>/dev/null || echo "(unknown build)")"
VL_VERSION=$("$VL_BIN" -version 2>/dev/null | head -1)

# --- per-daemon hooks -----------------------------------------------------------------------
# le_* and vl_* : start, ready, ingest URL for loadgen, sentinel post, sentinel search, count.

le_start() {
	LE_PORT=$(free_port) || die "no free loopback port in 18080-18999"
	LE_URL="http://127.0.0.1:$LE_PORT"
	# shellcheck disable=SC2086 # LE_ARGS is a list of flags
	"$LE_BIN" serve --data-dir "$LE_DIR" --retention 0 --listen "127.0.0.1:$LE_PORT" \
		${LE_ARGS:-} >"$LOGDIR/logengine.log" 2>&1 &
	DAEMON_PID=$!
}
le_ready() { curl -sf --max-time 2 "$LE_URL/readyz" >/dev/null; }
le_loadgen_server() { echo "$LE_URL"; }
le_post() { # NDJSON body on stdin
	curl -sf --max-time 10 -H 'Content-Type: application/x-ndjson' --data-binary @- "$LE_URL/api/v1/logs" >/dev/null
}
le_found() { # word -> true when at least one line holds it
	local n
	n=$(curl -sf --max-time 10 -G --data-urlencode "q=$1" --data-urlencode limit=1 "$LE_URL/api/v1/logs" | jq '.logs | length' 2>/dev/null)
	[ "${n:-0}" -ge 1 ]
}
le_count() {
	curl -sf --max-time 30 -G --data-urlencode group_by=level --data-urlencode limit=1 "$LE_URL/api/v1/aggregate" | jq '.total' 2>/dev/null
}
le_indexed() { # the keyword index has caught up
	local v
	v=$(curl -sf --max-time 5 "$LE_URL/metrics" | awk '$1=="logengine_index_lag_entries"{print $2}')
	[ -n "$v" ] && awk -v v="$v" 'BEGIN{exit !(v+0 == 0)}'
}

vl_start() {
	port_free "${VL_ADDR##*:}" || die "$VL_ADDR is in use"
	VL_URL="http://$VL_ADDR"
	"$VL_BIN" -storageDataPath="$VL_DIR" -httpListenAddr="$VL_ADDR" -retentionPeriod=100y \
		>"$LOGDIR/victoria-logs.log" 2>&1 &
	DAEMON_PID=$!
}
vl_ready() { curl -sf --max-time 2 "$VL_URL/health" >/dev/null; }
# loadgen appends its protocol's path (/api/v1/logs) to --server; a trailing dummy query argument
# swallows it, so the request goes to /insert/jsonline with the ingest arguments intact.
vl_loadgen_server() { echo "$VL_URL/insert/jsonline?$VL_INGEST_ARGS&lg_path="; }
vl_post() { # a Content-Type is needed: with curl's default (a form) VictoriaLogs reads the body as form values
	curl -sf --max-time 10 -H 'Content-Type: application/x-ndjson' --data-binary @- "$VL_URL/insert/jsonline?$VL_INGEST_ARGS" >/dev/null
}
vl_range() { local t; t=$(date +%s); echo "start=$(( t - 3 * 86400 ))" "end=$(( t + 86400 ))"; }
vl_found() {
	local r out
	read -r -a r <<<"$(vl_range)"
	out=$(curl -sf --max-time 10 -G --data-urlencode "query=$1" --data-urlencode limit=1 \
		--data-urlencode "${r[0]}" --data-urlencode "${r[1]}" "$VL_URL/select/logsql/query")
	[ -n "$out" ]
}
vl_count() {
	local r
	read -r -a r <<<"$(vl_range)"
	curl -sf --max-time 30 -G --data-urlencode 'query=* | stats count() as n' \
		--data-urlencode "${r[0]}" --data-urlencode "${r[1]}" "$VL_URL/select/logsql/query" |
		jq -r '.n' 2>/dev/null | head -1
}
vl_indexed() { return 0; }

# --- one run --------------------------------------------------------------------------------
# Sets R_<key>_<name> globals.
run_one() {
	local key=$1 name=$2 dir=$3
	local t tok lg_out ack_n ack_dur ack_s t_exit t_found t_count t_indexed cpu0 cpu_s cpu_stop
	echo
	echo "=== $name ==="
	rm -rf "$dir"
	"${key}_start"
	local pid=$DAEMON_PID
	t=$(now)
	until "${key}_ready"; do
		kill -0 "$pid" 2>/dev/null || die "$name exited during start-up (see $LOGDIR)"
		within "$t" 60 || die "$name not ready after 60 s"
		sleep 0.1
	done
	echo "pid $pid, ready after $(fsub "$(now)" "$t") s; data in $dir"

	cpu0=$(cpu_ticks "$pid") || die "cannot read /proc/$pid/stat"
	lg_out="$LOGDIR/loadgen-$key.out"
	timeout --signal=INT --kill-after=10 "$LOADGEN_TIMEOUT" \
		"$LOADGEN_BIN" --server "$("${key}_loadgen_server")" --protocol ndjson \
		--total "$N" --batch "$BATCH" --concurrency "$CONC" --pool "$POOL" --pid "$pid" \
		>"$lg_out" 2>&1
	local lg_rc=$?
	t_exit=$(now)
	sed 's/^/  loadgen: /' "$lg_out"
	[ "$lg_rc" -eq 0 ] || die "loadgen failed against $name (exit $lg_rc; see $lg_out)"
	ack_n=$(awk '/^acknowledged /{print $2}' "$lg_out")
	ack_dur=$(awk '/^acknowledged /{print $5}' "$lg_out" | tr -d ':')
	[ -n "$ack_n" ] && [ "$ack_n" -gt 0 ] || die "no acknowledged lines against $name"
	ack_s=$(go_dur "$ack_dur")

	# The last line: unique word, posted after every loadgen line was acknowledged.
	tok="sbslast$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	printf '{"timestamp":"%s","level":"info","source":"sbs","host":"sbs","message":"side by side last line %s"}\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$tok" | "${key}_post" || die "cannot post the last line to $name"
	local want=$(( ack_n + 1 ))

	t_found=
	while within "$t_exit" "$SEARCH_TIMEOUT"; do
		if "${key}_found" "$tok"; then t_found=$(now); break; fi
		sleep 0.05
	done
	[ -n "$t_found" ] || die "$name: the last line was not found within $SEARCH_TIMEOUT s"
	t_count=
	local c=
	while within "$t_exit" "$SEARCH_TIMEOUT"; do
		c=$("${key}_count")
		if [ -n "$c" ] && [ "$c" != null ] && [ "$c" -ge "$want" ]; then t_count=$(now); break; fi
		sleep 0.2
	done
	[ -n "$t_count" ] || die "$name: count reached only ${c:-?} of $want within $SEARCH_TIMEOUT s"
	cpu_s=$(cpu_ticks "$pid")
	t_indexed=
	while within "$t_exit" "$SEARCH_TIMEOUT"; do
		if "${key}_indexed"; then t_indexed=$(now); break; fi
		sleep 0.05
	done

	cpu_stop=$(cpu_ticks "$pid")
	local hwm
	hwm=$(vmhwm_kb "$pid")
	split=$(rss_split "$pid")

	# Clean stop: SIGTERM, then wait for the process to exit by itself (killed after STOP_TIMEOUT).
	local t_stop stop_rc clean=yes
	t_stop=$(now)
	kill -TERM "$pid"
	while alive "$pid" && within "$t_stop" "$STOP_TIMEOUT"; do sleep 0.05; done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		clean="NO (killed after $STOP_TIMEOUT s)"
	fi
	wait "$pid"
	stop_rc=$?
	DAEMON_PID=
	[ "$clean" != yes ] || [ "$stop_rc" -eq 0 ] || clean="NO (exit status $stop_rc)"
	local stop_s
	stop_s=$(fsub "$(now)" "$t_stop")
	sync
	local disk apparent
	disk=$(du -s -B1 "$dir" | cut -f1)
	apparent=$(du -s -B1 --apparent-size "$dir" | cut -f1)

	local lines=$want
	local search_s
	search_s=$(fadd "$ack_s" "$(fsub "$t_count" "$t_exit")")
	local found_after count_after
	found_after=$(fsub "$t_found" "$t_exit")
	count_after=$(fsub "$t_count" "$t_exit")

	printf -v "R_${key}_ack" '%s' "$(awk -v n="$ack_n" -v s="$ack_s" 'BEGIN{printf "%.0f", n/s}')"
	printf -v "R_${key}_search" '%s' "$(awk -v n="$ack_n" -v s="$search_s" 'BEGIN{printf "%.0f", n/s}')"
	printf -v "R_${key}_cpu" '%s' "$(awk -v c="$((cpu_s - cpu0))" -v hz="$HZ" -v n="$ack_n" 'BEGIN{printf "%.2f", c/hz/n*1e6}')"
	printf -v "R_${key}_cpustop" '%s' "$(awk -v c="$((cpu_stop - cpu0))" -v hz="$HZ" -v n="$ack_n" 'BEGIN{printf "%.2f", c/hz/n*1e6}')"
	printf -v "R_${key}_rss" '%s' "$hwm"
	printf -v "R_${key}_disk" '%s' "$(awk -v d="$disk" -v n="$lines" 'BEGIN{printf "%.1f", d/n}')"

	echo "acknowledged: $ack_n lines in ${ack_s} s"
	echo "last line found ${found_after} s after loadgen's exit; count $want reached after ${count_after} s"
	if [ -n "$t_indexed" ] && [ "$key" = le ]; then
		echo "keyword index caught up $(fsub "$t_indexed" "$t_exit") s after loadgen's exit"
	fi
	echo "daemon CPU: $(awk -v c="$((cpu_s - cpu0))" -v hz="$HZ" 'BEGIN{printf "%.2f", c/hz}') s to searchable, $(awk -v c="$((cpu_stop - cpu0))" -v hz="$HZ" 'BEGIN{printf "%.2f", c/hz}') s to the stop request"
	echo "peak RSS (VmHWM): $(( hwm / 1024 )) MiB; RSS then: $split"
	echo "stop: ${stop_s} s, clean: $clean"
	echo "disk after stop: $disk bytes allocated ($apparent apparent) for $lines lines"
}

echo "side by side: N=$N lines, batches of $BATCH, $CONC clients, pool $POOL batches"
echo "$LE_VERSION | $VL_VERSION | $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

[ "${ONLY:-le}" = le ] && run_one le logengine "$LE_DIR"
[ "${ONLY:-vl}" = vl ] && run_one vl "VictoriaLogs" "$VL_DIR"

[ -z "${ONLY:-}" ] || exit 0

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 == 0) print "-"; else printf "%.2f", a/b }'; }
echo
echo "=== summary (N=$N; one run each) ==="
printf '%-30s %14s %14s %8s\n' figure logengine VictoriaLogs ratio
printf '%-30s %14s %14s %8s\n' "lines/s acknowledged" "$R_le_ack" "$R_vl_ack" "$(ratio "$R_le_ack" "$R_vl_ack")"
printf '%-30s %14s %14s %8s\n' "lines/s searchable" "$R_le_search" "$R_vl_search" "$(ratio "$R_le_search" "$R_vl_search")"
printf '%-30s %14s %14s %8s\n' "CPU-s per 1M lines" "$R_le_cpu" "$R_vl_cpu" "$(ratio "$R_le_cpu" "$R_vl_cpu")"
printf '%-30s %14s %14s %8s\n' "  (to the stop request)" "$R_le_cpustop" "$R_vl_cpustop" "$(ratio "$R_le_cpustop" "$R_vl_cpustop")"
printf '%-30s %14s %14s %8s\n' "peak RSS, MiB" "$(( R_le_rss / 1024 ))" "$(( R_vl_rss / 1024 ))" "$(ratio "$R_le_rss" "$R_vl_rss")"
printf '%-30s %14s %14s %8s\n' "disk bytes per line" "$R_le_disk" "$R_vl_disk" "$(ratio "$R_le_disk" "$R_vl_disk")"
echo "ratio = logengine / VictoriaLogs; logs of the daemons and loadgen in $LOGDIR"

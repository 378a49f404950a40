#!/usr/bin/env bash
# Intake benchmark: `verbatim serve` against a durable-write floor, on this machine, in this run.
#
# The floor (bench/floor) does the least a server that keeps what it acknowledges must do per
# request: read the body, SHA-256 it, write it to a new file, fsync the file and its folder,
# answer 201. Both servers get the same multipart request (name, category, one 10 KiB text file)
# from wrk on loopback; the result is verbatim's accepted responses per second as a ratio of the
# floor's. For verbatim it then measures the publication lag: how long after the load stops
# until /consultations/{id}/responses.json lists every accepted response.
#
#   bash bench/intake.sh                       # 20 s per server, one round
#   DURATION=10 ROUNDS=3 bash bench/intake.sh  # floor, verbatim, floor, verbatim, ...
#
# Settings (environment): DURATION (s, default 20), ROUNDS (1), WARMUP (s, 2), THREADS (2),
# CONNECTIONS (32), LAG_CAP (s, 300), KEEP=1 keeps the scratch folder (data, logs),
# STRICT=1 exits 2 if any request was not answered 2xx or publication timed out.
# FS=journal puts both servers' data on a fresh ext4 with a journal (ext4's default: a loop-
# mounted 32 GiB sparse image, room for the unsynced floor's files; needs root), for machines
# whose own disk has none (see docs/write-path.md).
# Each round also runs the floor without its two fsyncs (NOSYNC=0 skips it): the share of the
# floor's time its syncs take on this machine is the most that saving syncs (group commit) can
# win here. Each server's CPU time (user + system, from /proc) over the requests it completed is
# reported too: all three are CPU-bound on a small machine, and what a server does beyond an
# unsynced write shows as the difference between its CPU a request and the unsynced floor's.
# Results: a summary on stdout, and one JSON line appended to bench/results/intake.jsonl.
set -euo pipefail

DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-1}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
LAG_CAP=${LAG_CAP:-300}
KEEP=${KEEP:-0}
STRICT=${STRICT:-0}
FS=${FS:-here}
NOSYNC=${NOSYNC:-1}

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
RESULTS=$BENCH/results
VERBATIM=$ROOT/target/bench-release/release/verbatim
FLOOR=$BENCH/floor/target/release/verbatim-bench-floor
WORK=$(mktemp -d "${TMPDIR:-/tmp}/verbatim-bench.XXXXXX")
SERVER_PID=
MOUNTED=
DATA_ROOT=$WORK

log() { printf '[intake.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# Stops the running server: TERM, then KILL after 10 s. Only the process this script started.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            log "server $SERVER_PID ignored TERM for 10 s: KILL"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
cleanup() {
    stop_server
    if [ -n "$MOUNTED" ]; then umount "$MOUNTED" || log "could not unmount $MOUNTED"; fi
    if [ "$KEEP" = 1 ]; then log "scratch kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Build (release; verbatim in its own target dir so the main one is never locked) and tools.
log "building verbatim (release, CARGO_TARGET_DIR=target/bench-release)"
(cd "$ROOT" && CARGO_TARGET_DIR="$ROOT/target/bench-release" \
    nice -n 19 cargo build --release --bin verbatim --locked)
log "building the floor (release, bench/floor/target)"
(cd "$BENCH/floor" && export CARGO_TARGET_DIR="$BENCH/floor/target" &&
    { nice -n 19 cargo build --release --locked --offline ||
      nice -n 19 cargo build --release --locked; })
[ -x "$VERBATIM" ] || die "no binary at $VERBATIM"
[ -x "$FLOOR" ] || die "no binary at $FLOOR"

if ! command -v wrk >/dev/null; then
    log "installing wrk with apt-get"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
fi
command -v curl >/dev/null || die "curl is needed"

# ---------------------------------------------------------------------------------------------
# The request: multipart with name, category and one 10 KiB text/plain file, and the wrk script
# that sends it and counts the answers by status (per thread, summed in done()).
BOUNDARY=verbatim-bench-7MA4YWxkTrZu0gW
for i in $(seq 128); do
    printf '%-79s\n' "line $i of the intake benchmark: plain text, published exactly as sent."
done >"$WORK/bench.txt" # 128 x 80 bytes = 10240
{
    printf -- '--%s\r\nContent-Disposition: form-data; name="name"\r\n\r\nBench\r\n' "$BOUNDARY"
    printf -- '--%s\r\nContent-Disposition: form-data; name="category"\r\n\r\nindividual\r\n' "$BOUNDARY"
    printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="bench.txt"\r\n' "$BOUNDARY"
    printf 'Content-Type: text/plain\r\n\r\n'
    cat "$WORK/bench.txt"
    printf '\r\n--%s--\r\n' "$BOUNDARY"
} >"$WORK/body.multipart"

cat >"$WORK/intake.lua" <<EOF
-- Generated by bench/intake.sh: POST the multipart body; count answers by status.
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=$BOUNDARY"
local f = assert(io.open("$WORK/body.multipart", "rb"))
wrk.body = f:read("*a")
f:close()

local threads = {}
function setup(thread) table.insert(threads, thread) end

statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local by = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do by[code] = (by[code] or 0) + n end
  end
  local ok, r429, other, codes = 0, 0, 0, {}
  for code, n in pairs(by) do
    if code >= 200 and code < 300 then ok = ok + n
    elseif code == 429 then r429 = r429 + n
    else other = other + n end
    table.insert(codes, string.format("%d:%d", code, n))
  end
  table.sort(codes)
  local e = summary.errors
  io.write(string.format(
    "WRKSTATS completed=%d duration_us=%d ok=%d r429=%d other=%d codes=%s"
      .. " connect=%d read=%d write=%d timeout=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.duration, ok, r429, other,
    #codes > 0 and table.concat(codes, ",") or "none",
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
EOF

# kv KEY LINE: the value of KEY=value in a WRKSTATS line.
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
# per_second KEY LINE: KEY's count in a WRKSTATS line over its duration, a second.
per_second() { awk -v n="$(kv "$1" "$2")" -v us="$(kv duration_us "$2")" 'BEGIN{printf "%.1f", n/(us/1e6)}'; }

# run_wrk NAME SECONDS URL: runs wrk, keeps its output, prints the WRKSTATS line.
run_wrk() {
    local out=$WORK/$1.wrk
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2s" --timeout 10s -s "$WORK/intake.lua" "$3" >"$out" 2>&1 ||
        { cat "$out" >&2; die "wrk failed ($1)"; }
    grep '^WRKSTATS' "$out" || { cat "$out" >&2; die "wrk printed no WRKSTATS ($1)"; }
}

# start_server NAME CMD...: starts it in the background (stdout NAME.out, stderr NAME.err) and
# sets SERVER_PID, and URL once it says "serving at http://ADDR/" (port 0: the kernel picks a
# free one).
start_server() {
    local name=$1; shift
    # Made here, not only by the background process's redirection: the loop below may read
    # them before that process has run (it did once, after a slow KILL of the server before).
    : >"$WORK/$name.out"; : >"$WORK/$name.err"
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    SERVER_PID=$!
    URL=
    local url=
    for _ in $(seq 300); do
        url=$(sed -n 's|.*serving at \(http://[^/]*\)/.*|\1|p' "$WORK/$name.out" | head -n1)
        [ -n "$url" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null ||
            { cat "$WORK/$name.out" "$WORK/$name.err" >&2; die "$name exited at start"; }
        sleep 0.1
    done
    [ -n "$url" ] || die "$name did not start within 30 s"
    case $url in http://127.0.0.1:*) ;; *) die "$name is not on loopback: $url" ;; esac
    URL=$url
}

published_total() {
    local json
    json=$(curl -sf --max-time 5 "$1") || { echo 0; return; }
    if command -v jq >/dev/null; then
        jq -r '.total // 0' <<<"$json" 2>/dev/null || echo 0
    else
        sed -n 's/^  "total": \([0-9]*\),\{0,1\}$/\1/p' <<<"$json" | head -n1 | grep . || echo 0
    fi
}

# cpu_ticks PID: the process's user + system CPU time so far, in clock ticks (/proc/PID/stat).
# The fields after the command name, which sits in parentheses and may hold spaces.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
TICKS_PER_S=$(getconf CLK_TCK)
# us_per_request TICKS REQUESTS: CPU microseconds a request.
us_per_request() { awk -v t="$1" -v n="$2" -v hz="$TICKS_PER_S" 'BEGIN{ if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "null" }'; }

fresh_data() { local d=$DATA_ROOT/data-$1; rm -rf "$d"; mkdir -p "$d"; printf '%s\n' "$d"; }
# A server's data stays until the script ends (the trap removes the scratch folder): deleting
# 150,000 files between two servers made the second one slower. On a file system without a
# journal, ext4 will not reuse an inode freed in the last 30 s (dirty_expire_centisecs) and
# reads each candidate's inode to find out, so every file created after a large deletion costs
# a scan (`recently_deleted` was 18% of verbatim's CPU time under perf). Only flushed here.
drop_data() { sync; sleep 1; }

# run_floor NAME ROUND [--no-sync]: one loaded run of the floor on a fresh data folder; sets
# OKPS (2xx a second), OK, R429, BAD (non-2xx), P99 and CPU (µs a request).
run_floor() {
    local name=$1-$2 round=$2 data url target s rps ticks
    shift 2
    data=$(fresh_data "$name")
    start_server "$name" "$FLOOR" 127.0.0.1:0 "$data" "$@"
    url=$URL
    log "round $round: $name at $url, warm-up ${WARMUP}s, then ${DURATION}s"
    target=$url/api/consultations/bench/responses
    run_wrk "$name-warmup" "$WARMUP" "$target" >/dev/null
    ticks=$(cpu_ticks "$SERVER_PID")
    s=$(run_wrk "$name" "$DURATION" "$target")
    CPU=$(us_per_request "$(($(cpu_ticks "$SERVER_PID") - ticks))" "$(kv completed "$s")")
    stop_server
    drop_data "$data"
    rps=$(per_second completed "$s")
    OKPS=$(per_second ok "$s")
    OK=$(kv ok "$s"); R429=$(kv r429 "$s"); BAD=$(($(kv other "$s") + $(kv r429 "$s"))); P99=$(kv p99_ms "$s")
    log "round $round: $name $rps req/s, $OKPS 2xx/s; statuses $(kv codes "$s"); p99 $P99 ms; timeouts $(kv timeout "$s"); CPU $CPU µs a request"
}

case $FS in
    here) ;;
    journal)
        [ "$(id -u)" = 0 ] || die "FS=journal needs root (mount)"
        truncate -s 32G "$WORK/ext4.img"
        mkfs.ext4 -q -F "$WORK/ext4.img" || die "mkfs.ext4 failed"
        mkdir -p "$WORK/ext4"
        mount -o loop "$WORK/ext4.img" "$WORK/ext4" || die "mounting the ext4 image failed"
        MOUNTED=$WORK/ext4
        DATA_ROOT=$MOUNTED
        log "data on a fresh ext4 with a journal: $(findmnt -no SOURCE,FSTYPE,OPTIONS "$MOUNTED")"
        ;;
    *) die "FS=$FS: write FS=here (default) or FS=journal" ;;
esac

RATE_LIMIT_ARGS=()
if "$VERBATIM" serve --help 2>/dev/null | grep -q -- '--rate-limit'; then
    RATE_LIMIT_ARGS=(--rate-limit off)
    log "verbatim serve has --rate-limit: passing --rate-limit off"
fi

# ---------------------------------------------------------------------------------------------
# Rounds: the floor, verbatim, then the floor without syncs, ROUNDS times, each on a fresh data
# folder.
F_RPS=(); F_OK=(); F_BAD=(); F_429=(); F_P99=(); F_CPU=()
U_RPS=(); U_BAD=(); U_CPU=()
V_RPS=(); V_OK=(); V_BAD=(); V_429=(); V_P99=(); V_CPU=(); V_LAG=(); V_EXTRA=(); V_LOGERR=()
LAG_TIMEOUT=0
for round in $(seq "$ROUNDS"); do
    # --- the floor
    run_floor floor "$round"
    F_RPS+=("$OKPS"); F_OK+=("$OK"); F_429+=("$R429"); F_BAD+=("$BAD"); F_P99+=("$P99"); F_CPU+=("$CPU")

    # --- verbatim
    data=$(fresh_data verbatim-$round)
    token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') # 32 hex characters
    start_server verbatim-$round env NO_COLOR=1 VERBATIM_ADMIN_TOKEN="$token" \
        "$VERBATIM" serve --addr 127.0.0.1:0 --data "$data" "${RATE_LIMIT_ARGS[@]}"
    url=$URL
    for _ in $(seq 100); do curl -sf -o /dev/null "$url/api/consultations" && break; sleep 0.1; done
    curl -sf -o /dev/null "$url/api/consultations" || die "verbatim does not answer at $url"
    id=bench-$(date +%s)-$round
    code=$(curl -sS -o "$WORK/consultation-$round.json" -w '%{http_code}' \
        "$url/api/admin/consultations" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' \
        -d "{\"id\":\"$id\",\"title\":{\"en\":\"Intake benchmark\"},
             \"questions\":[{\"en\":\"How fast?\"}],\"meeting_date\":\"$(date -u -d '+1 year' +%F)\"}")
    [ "$code" = 201 ] || { cat "$WORK/consultation-$round.json" >&2; die "creating the consultation: HTTP $code"; }
    grep -q '"status": *"open"' "$WORK/consultation-$round.json" ||
        { cat "$WORK/consultation-$round.json" >&2; die "the consultation is not open"; }
    log "round $round: verbatim at $url, consultation $id, warm-up ${WARMUP}s, then ${DURATION}s"
    target=$url/api/consultations/$id/responses
    w=$(run_wrk verbatim-$round-warmup "$WARMUP" "$target")
    ticks=$(cpu_ticks "$SERVER_PID")
    s=$(run_wrk verbatim-$round "$DURATION" "$target")
    V_CPU+=("$(us_per_request "$(($(cpu_ticks "$SERVER_PID") - ticks))" "$(kv completed "$s")")")
    stopped=$(date +%s.%N)
    rps=$(per_second completed "$s")
    okps=$(per_second ok "$s")
    V_RPS+=("$okps"); V_OK+=("$(kv ok "$s")"); V_429+=("$(($(kv r429 "$s") + $(kv r429 "$w")))")
    V_BAD+=("$(($(kv other "$s") + $(kv r429 "$s") + $(kv other "$w") + $(kv r429 "$w")))")
    V_P99+=("$(kv p99_ms "$s")")
    log "round $round: verbatim $rps req/s, $okps 2xx/s; statuses $(kv codes "$s") (warm-up $(kv codes "$w")); p99 $(kv p99_ms "$s") ms; timeouts $(kv timeout "$s"); CPU ${V_CPU[-1]} µs a request"

    # Publication lag: from wrk's end until responses.json lists every accepted response
    # (warm-up included: those were stored too).
    accepted=$(($(kv ok "$w") + $(kv ok "$s")))
    manifest=$url/consultations/$id/responses.json
    lag=timeout
    while :; do
        total=$(published_total "$manifest")
        now=$(date +%s.%N)
        if [ "$total" -ge "$accepted" ]; then
            lag=$(awk -v a="$stopped" -v b="$now" 'BEGIN{printf "%.2f", b-a}'); break
        fi
        if awk -v a="$stopped" -v b="$now" -v cap="$LAG_CAP" 'BEGIN{exit !(b-a > cap)}'; then
            LAG_TIMEOUT=1
            log "round $round: PUBLICATION TIMEOUT: $total of $accepted accepted responses listed after ${LAG_CAP}s"
            break
        fi
        sleep 0.1
    done
    # Stored beyond what wrk saw acknowledged (requests in flight when wrk stopped).
    V_EXTRA+=("$((total - accepted))")
    V_LAG+=("$lag")
    log "round $round: publication lag ${lag}s ($total listed, $accepted acknowledged)"
    stop_server
    V_LOGERR+=("$(grep -cE 'ERROR|WARN' "$WORK/verbatim-$round.err" || true)")
    if [ "${V_LOGERR[-1]}" -gt 0 ]; then
        log "round $round: verbatim logged ${V_LOGERR[-1]} WARN/ERROR lines, e.g.:"
        grep -E 'ERROR|WARN' "$WORK/verbatim-$round.err" | head -n 5 >&2
    fi
    drop_data "$data"

    # --- the floor without its syncs (what the syncs cost it here), last in the round, so
    # that the floor and verbatim run one after the other as they did before it was added
    if [ "$NOSYNC" = 1 ]; then
        run_floor floor-nosync "$round" --no-sync
        U_RPS+=("$OKPS"); U_BAD+=("$BAD"); U_CPU+=("$CPU")
    fi
done

# ---------------------------------------------------------------------------------------------
# Summary: medians over rounds (2xx per second), sums of failures.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
sum() { local t=0 x; for x in "$@"; do t=$((t + x)); done; echo "$t"; }
join() { local IFS=,; echo "$*"; }
jsonlist() { local out= x; for x in "$@"; do case $x in timeout) x='"timeout"' ;; esac; out+=${out:+,}$x; done; echo "[$out]"; }

F_MED=$(median "${F_RPS[@]}")
V_MED=$(median "${V_RPS[@]}")
RATIO=$(awk -v v="$V_MED" -v f="$F_MED" 'BEGIN{ if (f > 0) printf "%.2f", v/f; else print "null" }')
F_NON2XX=$(sum "${F_BAD[@]}"); V_NON2XX=$(sum "${V_BAD[@]}")
# The floor without syncs: its median, and the share of the floor's time the syncs take
# (1 - floor / unsynced floor, from the medians). null when NOSYNC=0.
U_MED=null; U_NON2XX=0; SYNC_SHARE=null
if [ "${#U_RPS[@]}" -gt 0 ]; then
    U_MED=$(median "${U_RPS[@]}")
    U_NON2XX=$(sum "${U_BAD[@]}")
    SYNC_SHARE=$(awk -v f="$F_MED" -v u="$U_MED" 'BEGIN{ if (u > 0) printf "%.2f", 1 - f/u; else print "null" }')
fi
F_429S=$(sum "${F_429[@]}"); V_429S=$(sum "${V_429[@]}")
NPROC=$(nproc)
WHEN=$(date -u +%FT%TZ)
KERNEL=$(uname -sr)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=false; [ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || DIRTY=true

cat <<EOF

==== intake benchmark: verbatim serve vs durable-write floor ====
date          $WHEN   kernel $KERNEL   nproc $NPROC   commit $COMMIT$([ "$DIRTY" = true ] && echo ' (uncommitted changes)')
load          wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, warm-up ${WARMUP}s, $ROUNDS round(s); multipart with one 10 KiB text/plain file
data on       $([ "$FS" = journal ] && echo "a fresh ext4 with a journal (FS=journal)" || findmnt -no FSTYPE,OPTIONS -T "$WORK" | cut -c1-60)
floor         $F_MED 2xx/s   (rounds: $(join "${F_RPS[@]}"))   non-2xx $F_NON2XX (429: $F_429S)
$([ "$U_MED" = null ] || echo "unsynced      $U_MED 2xx/s   (rounds: $(join "${U_RPS[@]}"))   non-2xx $U_NON2XX   the floor without its fsyncs; CPU $(join "${U_CPU[@]}") µs a request
sync share    $SYNC_SHARE of the floor's time goes to its two fsyncs here: the most that saving syncs can win")
verbatim      $V_MED 2xx/s   (rounds: $(join "${V_RPS[@]}"))   non-2xx $V_NON2XX (429: $V_429S)
ratio         $RATIO   (verbatim / floor, median 2xx per second)
p99 latency   floor $(join "${F_P99[@]}") ms   verbatim $(join "${V_P99[@]}") ms
CPU/request   floor $(join "${F_CPU[@]}") µs   verbatim $(join "${V_CPU[@]}") µs   (each server's user + system time while loaded, over the requests completed)
publication   lag $(join "${V_LAG[@]}") s after the load stopped (cap ${LAG_CAP}s); stored beyond acknowledged: $(join "${V_EXTRA[@]}")
verbatim log  WARN/ERROR lines: $(join "${V_LOGERR[@]}")
EOF
[ "$V_NON2XX" -eq 0 ] || echo "WARNING: verbatim answered $V_NON2XX requests with a non-2xx status ($V_429S of them 429): see the statuses above"
[ "$F_NON2XX" -eq 0 ] || echo "WARNING: the floor answered $F_NON2XX requests with a non-2xx status"
[ "$U_NON2XX" -eq 0 ] || echo "WARNING: the unsynced floor answered $U_NON2XX requests with a non-2xx status"
[ "$LAG_TIMEOUT" = 0 ] || echo "WARNING: publication did not catch up within ${LAG_CAP}s"

mkdir -p "$RESULTS"
printf '{"date":"%s","fs":"%s","kernel":"%s","nproc":%s,"commit":"%s","dirty":%s,"duration_s":%s,"warmup_s":%s,"rounds":%s,"threads":%s,"connections":%s,"floor_rps":%s,"verbatim_rps":%s,"ratio":%s,"floor_rps_rounds":%s,"verbatim_rps_rounds":%s,"floor_accepted":%s,"verbatim_accepted":%s,"floor_non2xx":%s,"floor_429":%s,"verbatim_non2xx":%s,"verbatim_429":%s,"floor_p99_ms":%s,"verbatim_p99_ms":%s,"floor_cpu_us_per_request":%s,"verbatim_cpu_us_per_request":%s,"floor_nosync_rps":%s,"floor_nosync_rps_rounds":%s,"floor_nosync_cpu_us_per_request":%s,"sync_share":%s,"publication_lag_s":%s,"stored_beyond_acknowledged":%s,"verbatim_log_warn_error":%s}\n' \
    "$WHEN" "$FS" "$KERNEL" "$NPROC" "$COMMIT" "$DIRTY" "$DURATION" "$WARMUP" "$ROUNDS" "$THREADS" "$CONNECTIONS" \
    "$F_MED" "$V_MED" "$RATIO" "$(jsonlist "${F_RPS[@]}")" "$(jsonlist "${V_RPS[@]}")" \
    "$(jsonlist "${F_OK[@]}")" "$(jsonlist "${V_OK[@]}")" "$F_NON2XX" "$F_429S" "$V_NON2XX" "$V_429S" \
    "$(jsonlist "${F_P99[@]}")" "$(jsonlist "${V_P99[@]}")" "$(jsonlist "${F_CPU[@]}")" "$(jsonlist "${V_CPU[@]}")" \
    "$U_MED" "$(jsonlist "${U_RPS[@]}")" "$(jsonlist "${U_CPU[@]}")" "$SYNC_SHARE" \
    "$(jsonlist "${V_LAG[@]}")" \
    "$(jsonlist "${V_EXTRA[@]}")" "$(jsonlist "${V_LOGERR[@]}")" >>"$RESULTS/intake.jsonl"
echo "appended to ${RESULTS#"$ROOT"/}/intake.jsonl"

if [ "$STRICT" = 1 ] && { [ "$V_NON2XX" -gt 0 ] || [ "$F_NON2XX" -gt 0 ] || [ "$U_NON2XX" -gt 0 ] || [ "$LAG_TIMEOUT" = 1 ]; }; then
    exit 2
fi

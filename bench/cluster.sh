#!/usr/bin/env bash
# One gateway node against three, on one PostgreSQL store and one Redis, on this machine.
#
#   bash bench/cluster.sh                       # 3 rounds of 10 s, 48 connections
#   ROUNDS=5 DURATION=20s CONNS=96 bash bench/cluster.sh
#
# Three `portcullis serve --workers 1` processes share a fresh PostgreSQL database (on PG_URL)
# and a Redis (REDIS_URL, a key prefix of this run's own), each on its own ports and data
# directory, with the same master key. A fourth process, `solo`, has the embedded defaults
# (SQLite, counters in process). Every node proxies to the same local upstream (bench-upstream)
# over keep-alive HTTP/1.1. The route measured requires an API key attached to a usage plan
# with a throttle and a daily quota far above what a run reaches, so every request takes its
# key from the node's cache and its buckets and quota in one Redis round trip.
#
# In interleaved rounds:
#   one    wrk with CONNS connections against node 1;
#   three  three wrk at once, CONNS/3 connections each, one per node; req/s is their sum;
#   solo   wrk with CONNS connections against the solo node's open route (nothing shared).
# Then, with one connection (latency, not throughput), the same keyed route on node 1 against
# the solo node's open route: the difference of the p50s is what the shared checks add.
#
# On a two-core machine the three nodes, wrk, the upstream, PostgreSQL and Redis share the same
# cores: three nodes cannot go faster than one there. The figures show the cost of the cluster
# and that requests keep flowing through every node; scaling needs a core per node.
#
# Needs: cargo, wrk, psql, curl; a PostgreSQL at PG_URL (trust or a password in the URL) and a
# Redis at REDIS_URL. Env: ROUNDS (3), DURATION (10s), CONNS (48), WARMUP (2s),
# PG_URL (postgres://postgres@127.0.0.1:5432), REDIS_URL (redis://127.0.0.1:6379/0),
# BASE_PORT (18600: the nodes' API ports are BASE_PORT+1..3, admin +11..13, solo +4 and +14,
# the upstream +20).

set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-48}
WARMUP=${WARMUP:-2s}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
BASE_PORT=${BASE_PORT:-18600}

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] && ((CONNS >= 3)) || die "CONNS must be an integer of at least 3, not '$CONNS'"
for tool in cargo wrk psql curl; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
echo "== building (release): portcullis, bench-upstream"
cargo build --release -p portcullis
cargo build --release -p portcullis-bench --bin bench-upstream
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | head -n1 | cut -d'"' -f4)
GW_BIN=${TARGET_DIR:-$ROOT/target}/release/portcullis
UP_BIN=${TARGET_DIR:-$ROOT/target}/release/bench-upstream

TMP=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-cluster.XXXXXX")
RUN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
DB=portcullis_bench_$RUN
PIDS=()
cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_port() { # port log
	local i
	for ((i = 0; i < 300; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	tail -n 20 "$2" >&2
	die "nothing listens on 127.0.0.1:$1"
}

psql -q "$PG_URL/postgres" -c "CREATE DATABASE $DB" || die "cannot create a database on $PG_URL"
UP_PORT=$((BASE_PORT + 20))
"$UP_BIN" "$UP_PORT" >"$TMP/upstream.log" 2>&1 &
PIDS+=($!)
wait_port "$UP_PORT" "$TMP/upstream.log"

export PORTCULLIS_MASTER_KEY
PORTCULLIS_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
routes() { # the APIs, usage plan and raised gateway-wide throttle every node serves
	cat <<EOF
throttling:
  rate: 1000000
  burst: 1000000
usage_plans:
  - id: bench
    throttle: { rate: 1000000, burst: 1000000 }
    quota: { limit: 1000000000, period: DAY }
    api_stages: [{ api: bench, stage: prod }]
apis:
  - name: bench
    stages: [{ name: prod }]
    routes:
      - route: GET /keyed
        api_key_required: true
        integration: { type: http, url: "http://127.0.0.1:$UP_PORT/" }
      - route: GET /open
        integration: { type: http, url: "http://127.0.0.1:$UP_PORT/" }
EOF
}
start_node() { # name api-port admin-port [store and Redis lines]
	local dir=$TMP/$1
	mkdir -p "$dir"
	{
		printf 'listen: 127.0.0.1:%s\nadmin:\n  listen: 127.0.0.1:%s\ndata_dir: %s\nnode_name: %s\n' "$2" "$3" "$dir/data" "$1"
		printf 'access_log:\n  enabled: false\n'
		[[ -z ${4:-} ]] || printf '%s\n' "$4"
		routes
	} >"$dir/portcullis.yaml"
	"$GW_BIN" serve --config "$dir/portcullis.yaml" --workers 1 >"$dir/log" 2>&1 &
	PIDS+=($!)
	wait_port "$2" "$dir/log"
}
SHARED=$(printf 'store:\n  url: %s/%s\nshared_state:\n  redis:\n    url: %s\n    key_prefix: bench-%s\n' \
	"$PG_URL" "$DB" "$REDIS_URL" "$RUN")
for n in 1 2 3; do
	start_node "node-$n" $((BASE_PORT + n)) $((BASE_PORT + 10 + n)) "$SHARED"
done
start_node solo $((BASE_PORT + 4)) $((BASE_PORT + 14))

AK=$(sed -n 's/^ *AWS_ACCESS_KEY_ID=//p' "$TMP/node-1/log" | head -n1)
SK=$(sed -n 's/^ *AWS_SECRET_ACCESS_KEY=//p' "$TMP/node-1/log" | head -n1)
[[ -n $AK && -n $SK ]] || die "node 1 printed no administrator key"
admin_cli() {
	env -u AWS_SESSION_TOKEN -u AWS_PROFILE AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" \
		"$GW_BIN" "$@" --endpoint "https://127.0.0.1:$((BASE_PORT + 11))" --ca-file "$TMP/node-1/data/dev-cert.pem"
}
KEY_JSON=$(admin_cli keys create --name bench)
KEY_ID=$(sed -n 's/^  "id": "\([^"]*\)",\{0,1\}$/\1/p' <<<"$KEY_JSON" | head -n1)
KEY=$(sed -n 's/^  "value": "\([^"]*\)",\{0,1\}$/\1/p' <<<"$KEY_JSON" | head -n1)
[[ -n $KEY_ID && -n $KEY ]] || die "keys create printed no id and value: $KEY_JSON"
admin_cli keys attach "$KEY_ID" --plan bench >/dev/null
keyed() { echo "https://127.0.0.1:$((BASE_PORT + $1))/prod/keyed"; }
SOLO=https://127.0.0.1:$((BASE_PORT + 4))/prod/open
for n in 1 2 3; do
	code=$(curl -sk -o /dev/null -w '%{http_code}' -H "x-api-key: $KEY" "$(keyed "$n")")
	[[ $code == 200 ]] || die "node $n answered $code to the keyed route"
done

to_ms() { # wrk's 1.23ms / 456.00us / 1.01s -> milliseconds
	awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; printf "%.3f", n }'
}
ROWS=$TMP/rows
wrk_run() { # label conns duration url [header] -> "rps p50"
	local out=$TMP/wrk-$1-$RANDOM.txt
	wrk -t1 -c"$2" -d"$3" --latency ${5:+-H "$5"} "$4" >"$out" 2>&1 || {
		cat "$out" >&2
		die "wrk failed ($1)"
	}
	grep -q 'Non-2xx' "$out" && die "$1: non-2xx answers: $(grep Non-2xx "$out")"
	echo "$(awk '/^Requests\/sec:/ {print $2}' "$out") $(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")"
}
round() { # label round
	local rps p50
	case $1 in
	one) read -r rps p50 < <(wrk_run one "$CONNS" "$DURATION" "$(keyed 1)" "x-api-key: $KEY") ;;
	solo) read -r rps p50 < <(wrk_run solo "$CONNS" "$DURATION" "$SOLO") ;;
	three)
		local n waits=()
		for n in 1 2 3; do
			wrk_run "three-$n" $((CONNS / 3)) "$DURATION" "$(keyed "$n")" "x-api-key: $KEY" >"$TMP/three-$n" &
			waits+=($!)
		done
		wait "${waits[@]}"
		rps=$(cat "$TMP"/three-[123] | awk '{ s += $1 } END { print s }')
		p50=$(cat "$TMP"/three-[123] | awk '{ print $2 }' | sort -g | sed -n 2p)
		;;
	esac
	[[ $2 == warmup ]] && return 0
	echo "$1 $2 $rps $p50" >>"$ROWS"
	printf '%-6s %-6s %10.0f req/s   p50 %7.3f ms\n' "$2" "$1" "$rps" "$p50"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
col() { awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$ROWS" | median; }

echo "== warm-up"
for s in one three solo; do round "$s" warmup; done
echo "== $ROUNDS round(s) of $DURATION, $CONNS connections in all"
for ((r = 1; r <= ROUNDS; r++)); do
	for s in one three solo; do round "$s" "$r"; done
done
echo "== latency, one connection, $DURATION each"
for ((r = 1; r <= ROUNDS; r++)); do
	read -r _ p50 < <(wrk_run lat-keyed 1 "$DURATION" "$(keyed 1)" "x-api-key: $KEY")
	echo "lat-keyed $r 0 $p50" >>"$ROWS"
	read -r _ p50 < <(wrk_run lat-solo 1 "$DURATION" "$SOLO")
	echo "lat-solo $r 0 $p50" >>"$ROWS"
done

echo
echo "medians over $ROUNDS round(s):"
for s in one three solo; do
	printf '  %-6s %10.0f req/s   p50 %7.3f ms\n' "$s" "$(col "$s" 3)" "$(col "$s" 4)"
done
awk -v t="$(col three 3)" -v o="$(col one 3)" -v s="$(col solo 3)" 'BEGIN {
	printf "three/one (median req/s): %.3f\none/solo (median req/s): %.3f\n", t / o, o / s }'
awk -v k="$(col lat-keyed 4)" -v s="$(col lat-solo 4)" 'BEGIN {
	printf "p50 with one connection: keyed on the cluster %.3f ms, open on solo %.3f ms: the shared checks add %.3f ms\n", k, s, k - s }'

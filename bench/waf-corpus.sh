#!/usr/bin/env bash
# Replays the WAF corpora through a real gateway over TLS and prints what it blocked.
#
#   bash bench/waf-corpus.sh                        # core + known_bad_inputs (bench/waf-corpus.yaml)
#   CORPUS=path/to/corpus bash bench/waf-corpus.sh
#   bash bench/waf-corpus.sh --show misses --class xss
#
# Builds portcullis, bench-upstream and waf-corpus (release), starts bench-upstream on
# UPSTREAM_PORT (18080, the port bench/waf-corpus.yaml names) and a gateway serving
# bench/waf-corpus.yaml on GATEWAY_PORT (18446) with a development certificate, sends every
# record with waf-corpus (16 at a time; a 403 counts as blocked), and stops both. Extra
# arguments go to waf-corpus.
set -euo pipefail

cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-../shared/corpus/waf}
GATEWAY_PORT=${GATEWAY_PORT:-18446}
UPSTREAM_PORT=18080
die() { echo "waf-corpus.sh: $*" >&2; exit 1; }
[[ -d $CORPUS ]] || die "no corpus at $CORPUS (set CORPUS)"

echo "== building (release): portcullis, bench-upstream, waf-corpus"
cargo build --release -p portcullis
cargo build --release -p portcullis-bench --bin bench-upstream --bin waf-corpus
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

wait_port() { # port pid log
	for _ in $(seq 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || { cat "$3" >&2; die "process $2 exited before listening on $1"; }
		sleep 0.1
	done
	die "nothing listens on 127.0.0.1:$1 after 30 s"
}

"$TARGET_DIR/release/bench-upstream" "$UPSTREAM_PORT" >"$TMP/upstream.log" 2>&1 &
PIDS+=($!)
wait_port "$UPSTREAM_PORT" "${PIDS[-1]}" "$TMP/upstream.log"

{
	cat <<YAML
listen: 127.0.0.1:$GATEWAY_PORT
admin:
  enabled: false
data_dir: $TMP/data
access_log:
  enabled: false
reload:
  watch: false
throttling:
  rate: 1000000
  burst: 1000000
YAML
	cat bench/waf-corpus.yaml
} >"$TMP/gateway.yaml"
"$TARGET_DIR/release/portcullis" serve --config "$TMP/gateway.yaml" >"$TMP/gateway.log" 2>&1 &
PIDS+=($!)
wait_port "$GATEWAY_PORT" "${PIDS[-1]}" "$TMP/gateway.log"
[[ -s $TMP/data/dev-cert.pem ]] || die "the gateway made no development certificate"

"$TARGET_DIR/release/waf-corpus" --config bench/waf-corpus.yaml --corpus "$CORPUS" \
	--url "https://localhost:$GATEWAY_PORT" --ca "$TMP/data/dev-cert.pem" "$@"

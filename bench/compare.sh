#!/usr/bin/env bash
# Portcullis against nginx as an HTTPS reverse proxy, on this machine.
#
#   bash bench/compare.sh                       # 3 rounds of 10 s, 32 connections
#   ROUNDS=5 DURATION=20s CONNS=64 bash bench/compare.sh
#   CASE=iam bash bench/compare.sh              # the gateway with and without `auth: iam`
#
# Both proxies get one worker (portcullis --workers 1, nginx worker_processes 1), terminate
# TLS 1.2/1.3 with the same ECDSA P-256 certificate (the gateway's development certificate),
# log nothing per request, and forward every request over keep-alive HTTP/1.1 to the same
# local upstream (bench-upstream, a one-thread hyper server answering 200 with 62 bytes of
# JSON). wrk drives each over HTTPS keep-alive, in interleaved rounds (gateway, nginx,
# gateway, ...), after a 2 s warm-up of each. Reported: requests/s, p50 and p99 latency per
# round and their medians, the gateway/nginx ratio of the medians, and the CPU time the proxy
# process used per request (from /proc; nginx counts master and worker).
#
# CASE=iam measures the cost of SigV4 and IAM policies instead, without nginx: one gateway with
# two routes to the same upstream that differ only in `auth: iam`, in interleaved rounds (open,
# iam, open, ...), and reports the iam/open ratio (target: at least 0.85). wrk cannot sign each
# request, but a SigV4 signature is valid for the gateway's 5-minute clock window and may be
# replayed within it by design, so wrk sends the same signed headers for a whole round; they
# come from `bench-sign` (AWS's signer, the `aws-sigv4` crate), signed anew before every round
# with the access key of the administrator the gateway creates on its first start.
#
# Needs: cargo, and root with apt-get to install nginx, wrk, openssl and curl if missing.
# Nothing is pinned to CPUs: on a small shared machine wrk, the proxy and the upstream compete
# for the same cores and the figures are noisy; compare the ratio more than the absolutes.
#
# Env: CASE (nginx, or iam), ROUNDS (3), DURATION (10s), CONNS (32), WARMUP (2s), and the ports
# GATEWAY_PORT (18443), ADMIN_PORT (19443), NGINX_PORT (18444), UPSTREAM_PORT (18081).

set -euo pipefail

CASE=${CASE:-nginx}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
WARMUP=${WARMUP:-2s}
GATEWAY_PORT=${GATEWAY_PORT:-18443}
ADMIN_PORT=${ADMIN_PORT:-19443}
NGINX_PORT=${NGINX_PORT:-18444}
UPSTREAM_PORT=${UPSTREAM_PORT:-18081}

die() {
	echo "compare.sh: $*" >&2
	exit 1
}

[[ $CASE == nginx || $CASE == iam ]] || die "CASE must be nginx or iam, not '$CASE'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, not '$CONNS'"
[[ $DURATION =~ ^[0-9]+[smh]?$ ]] || die "DURATION must look like 10s, 1m or 30, not '$DURATION'"
[[ $WARMUP =~ ^[0-9]+[smh]?$ ]] || die "WARMUP must look like 2s, not '$WARMUP'"
seconds() { # 10s, 2m, 1h or 30 -> seconds
	local n=${1%[smh]}
	case $1 in
	*m) echo $((n * 60)) ;;
	*h) echo $((n * 3600)) ;;
	*) echo "$n" ;;
	esac
}
# Each IAM round replays one signature, which the gateway accepts for 5 minutes.
if [[ $CASE == iam ]] && (($(seconds "$DURATION") > 240 || $(seconds "$WARMUP") > 240)); then
	die "CASE=iam: DURATION and WARMUP must be at most 4m (a signature is valid for 5 minutes)"
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# --- tools ------------------------------------------------------------------------------------

install_missing() {
	local -a pkgs=()
	[[ $CASE == iam ]] || command -v nginx >/dev/null 2>&1 || pkgs+=(nginx)
	command -v wrk >/dev/null 2>&1 || pkgs+=(wrk)
	command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
	command -v curl >/dev/null 2>&1 || pkgs+=(curl ca-certificates)
	((${#pkgs[@]} == 0)) && return 0
	command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and no apt-get to install them"
	[[ $(id -u) -eq 0 ]] || die "missing ${pkgs[*]}: run as root (apt-get install) or install them first"
	echo "== installing ${pkgs[*]} (apt-get)"
	# Keep the nginx package from starting a system-wide nginx on port 80: the usual
	# policy-rc.d refusal, only while installing and only if the machine has no policy of its own.
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
	fi
	local rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } >&2 || rc=$?
	((made_policy)) && rm -f "$policy"
	((rc == 0)) || die "apt-get install ${pkgs[*]} failed"
}

install_missing
command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH"

# --- build ------------------------------------------------------------------------------------

echo "== building (release): portcullis, bench-upstream, bench-sign"
cargo build --release -p portcullis
cargo build --release -p portcullis-bench --bin bench-upstream --bin bench-sign
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | head -n1 | cut -d'"' -f4)
[[ -n $TARGET_DIR ]] || TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
GW_BIN=$TARGET_DIR/release/portcullis
UP_BIN=$TARGET_DIR/release/bench-upstream
SIGN_BIN=$TARGET_DIR/release/bench-sign
[[ -x $GW_BIN && -x $UP_BIN && -x $SIGN_BIN ]] || die "built binaries not found under $TARGET_DIR/release"

# --- scratch space and cleanup ----------------------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-compare.XXXXXX")
GW_PID='' UP_PID='' NGINX_PID_FILE=$TMP/nginx/nginx.pid

stop_pid() { # pid signal: signal it, wait up to 5 s, then SIGKILL
	local pid=$1 sig=$2 i
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -s $NGINX_PID_FILE ]]; then
		stop_pid "$(cat "$NGINX_PID_FILE")" QUIT
	fi
	stop_pid "$GW_PID" TERM
	stop_pid "$UP_PID" TERM
	wait 2>/dev/null || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() { # file: its last lines, for a process that failed
	echo "--- last lines of $(basename "$1"):" >&2
	tail -n 20 "$1" >&2 || true
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port pid log: wait until something listens on port, while pid lives
	local port=$1 pid=$2 log=$3 i
	for ((i = 0; i < 300; i++)); do
		port_open "$port" && return 0
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			show_log "$log"
			die "process $pid exited before listening on $port"
		fi
		sleep 0.1
	done
	show_log "$log"
	die "nothing listens on 127.0.0.1:$port after 30 s"
}

for p in "$GATEWAY_PORT" "$ADMIN_PORT" "$NGINX_PORT" "$UPSTREAM_PORT"; do
	port_open "$p" && die "127.0.0.1:$p is already in use (set GATEWAY_PORT, ADMIN_PORT, NGINX_PORT or UPSTREAM_PORT)"
done

# --- upstream ---------------------------------------------------------------------------------

"$UP_BIN" "$UPSTREAM_PORT" >"$TMP/upstream.log" 2>&1 &
UP_PID=$!
wait_port "$UPSTREAM_PORT" "$UP_PID" "$TMP/upstream.log"

# --- gateway ----------------------------------------------------------------------------------

if [[ $CASE == iam ]]; then
	# The same HTTP route twice; only `auth` differs.
	ROUTES="      - route: ANY /open/{proxy+}
        integration:
          type: http
          url: http://127.0.0.1:$UPSTREAM_PORT/{proxy}
      - route: ANY /secure/{proxy+}
        auth: iam
        integration:
          type: http
          url: http://127.0.0.1:$UPSTREAM_PORT/{proxy}"
else
	ROUTES="      - route: ANY /{proxy+}
        integration:
          type: http
          url: http://127.0.0.1:$UPSTREAM_PORT/{proxy}"
fi
cat >"$TMP/gateway.yaml" <<EOF
listen: 127.0.0.1:$GATEWAY_PORT
admin:
  listen: 127.0.0.1:$ADMIN_PORT
data_dir: $TMP/gateway-data
access_log:
  enabled: false
reload:
  watch: false
shutdown:
  drain_timeout: 2s
apis:
  - name: bench
    routes:
$ROUTES
EOF
"$GW_BIN" serve --config "$TMP/gateway.yaml" --workers 1 >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
wait_port "$GATEWAY_PORT" "$GW_PID" "$TMP/gateway.log"

CERT=$TMP/gateway-data/dev-cert.pem
KEY=$TMP/gateway-data/dev-key.pem
[[ -s $CERT && -s $KEY ]] || die "the gateway made no development certificate in its data_dir"
KEY_TYPE=$(openssl pkey -in "$KEY" -noout -text 2>/dev/null | sed -n 's/^ *\(ASN1 OID\|NIST CURVE\): *//p' | paste -sd/ -)
case $KEY_TYPE in
*prime256v1* | *P-256*) ;;
*) die "expected an ECDSA P-256 development key, openssl says '${KEY_TYPE:-unknown}'" ;;
esac

# --- nginx ------------------------------------------------------------------------------------

start_nginx() {
	NGINX_VERSION=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
	version_ge() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]; }
	if version_ge "$NGINX_VERSION" 1.25.1; then
		LISTEN="listen 127.0.0.1:$NGINX_PORT ssl;
        http2 on;"
	else
		LISTEN="listen 127.0.0.1:$NGINX_PORT ssl http2;"
	fi
	NGINX_DIR=$TMP/nginx
	mkdir -p "$NGINX_DIR/temp"
	cat >"$NGINX_DIR/nginx.conf" <<-EOF
	user root;
	worker_processes 1;
	daemon on;
	pid $NGINX_PID_FILE;
	error_log $NGINX_DIR/error.log warn;

	events {
	    worker_connections 4096;
	}

	http {
	    access_log off;
	    client_body_temp_path $NGINX_DIR/temp/body;
	    proxy_temp_path $NGINX_DIR/temp/proxy;
	    fastcgi_temp_path $NGINX_DIR/temp/fastcgi;
	    uwsgi_temp_path $NGINX_DIR/temp/uwsgi;
	    scgi_temp_path $NGINX_DIR/temp/scgi;

	    upstream bench_upstream {
	        server 127.0.0.1:$UPSTREAM_PORT;
	        keepalive 64;
	    }

	    server {
	        $LISTEN
	        server_name localhost;
	        ssl_certificate $CERT;
	        ssl_certificate_key $KEY;
	        ssl_protocols TLSv1.2 TLSv1.3;

	        location / {
	            proxy_pass http://bench_upstream;
	            proxy_http_version 1.1;
	            proxy_set_header Connection "";
	        }
	    }
	}
	EOF
	NGINX_ARGS=(-c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR/")
	# -e (the error log used before the config is read) exists from nginx 1.19.5.
	version_ge "$NGINX_VERSION" 1.19.5 && NGINX_ARGS+=(-e "$NGINX_DIR/error.log")
	nginx "${NGINX_ARGS[@]}" -t >"$NGINX_DIR/test.log" 2>&1 || {
		show_log "$NGINX_DIR/test.log"
		die "nginx refused the generated config"
	}
	nginx "${NGINX_ARGS[@]}" || {
		show_log "$NGINX_DIR/error.log"
		die "nginx did not start"
	}
	wait_port "$NGINX_PORT" '' "$NGINX_DIR/error.log"
	for ((i = 0; i < 50; i++)); do [[ -s $NGINX_PID_FILE ]] && break || sleep 0.1; done
	NGINX_MASTER=$(cat "$NGINX_PID_FILE")
}
[[ $CASE == iam ]] || start_nginx

# --- sanity checks ----------------------------------------------------------------------------

GW_URL=https://127.0.0.1:$GATEWAY_PORT/bench
NGINX_URL=https://127.0.0.1:$NGINX_PORT/bench
OPEN_URL=https://127.0.0.1:$GATEWAY_PORT/open/bench
IAM_URL=https://127.0.0.1:$GATEWAY_PORT/secure/bench

probe() { # url [curl args]: one request over HTTP/1.1, e.g. "200, 62 B body, 250 B head"
	curl -sk --http1.1 -o /dev/null -w '%{http_code}, %{size_download} B body, %{size_header} B head' "${@:2}" "$1"
}
tls_of() { # port: negotiated protocol and cipher
	openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
		sed -n 's/^New, \([^,]*\), Cipher is \(.*\)$/\1 \2/p' | head -n1
}

if [[ $CASE == iam ]]; then
	# The first start created the administrator (AdministratorAccess) and printed its key once.
	AK=$(sed -n 's/^ *AWS_ACCESS_KEY_ID=//p' "$TMP/gateway.log" | head -n1)
	SK=$(sed -n 's/^ *AWS_SECRET_ACCESS_KEY=//p' "$TMP/gateway.log" | head -n1)
	[[ -n $AK && -n $SK ]] || {
		show_log "$TMP/gateway.log"
		die "the gateway printed no administrator access key on its first start"
	}
	SIGNED=() # -H arguments for wrk and curl: the IAM route's signed headers, renewed per round
	sign() {
		local headers line
		headers=$(env -u AWS_SESSION_TOKEN AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" \
			"$SIGN_BIN" "$IAM_URL") || die "bench-sign failed"
		SIGNED=()
		while IFS= read -r line; do
			[[ -n $line ]] && SIGNED+=(-H "$line")
		done <<<"$headers"
		((${#SIGNED[@]} >= 6)) || die "bench-sign printed too few headers: $headers"
	}
	sign
	OPEN_PROBE=$(probe "$OPEN_URL")
	IAM_PROBE=$(probe "$IAM_URL" "${SIGNED[@]}")
	UNSIGNED_PROBE=$(probe "$IAM_URL")
	[[ $OPEN_PROBE == 200,* ]] || die "the open route answered '$OPEN_PROBE' instead of 200"
	[[ $IAM_PROBE == 200,* ]] || die "the IAM route answered '$IAM_PROBE' to a signed request instead of 200"
	[[ $UNSIGNED_PROBE == 403,* ]] || die "the IAM route answered '$UNSIGNED_PROBE' to an unsigned request instead of 403"
else
	GW_PROBE=$(probe "$GW_URL")
	NGINX_PROBE=$(probe "$NGINX_URL")
	[[ $GW_PROBE == 200,* ]] || die "gateway answered '$GW_PROBE' instead of 200"
	[[ $NGINX_PROBE == 200,* ]] || die "nginx answered '$NGINX_PROBE' instead of 200"
fi

# --- measuring --------------------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

proc_ticks() { # pid: utime + stime of the process (all its threads), in clock ticks
	local line rest
	read -r line 2>/dev/null <"/proc/$1/stat" || {
		echo 0
		return
	}
	rest=${line##*) } # fields from 3 (state) on; the command name may hold spaces
	# shellcheck disable=SC2086
	set -- $rest
	echo $((${12} + ${13}))
}

nginx_pids() { # the master and its children (the worker)
	local f line rest
	echo "$NGINX_MASTER"
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		rest=${line##*) }
		# shellcheck disable=SC2086
		set -- $rest
		if [[ $2 == "$NGINX_MASTER" ]]; then echo "${f//[^0-9]/}"; fi
	done
	return 0
}

server_ticks() { # nginx, or a gateway label (gateway, open, iam)
	local total=0 pid
	if [[ $1 == nginx ]]; then
		for pid in $(nginx_pids); do total=$((total + $(proc_ticks "$pid"))); done
	else
		total=$(proc_ticks "$GW_PID")
	fi
	echo "$total"
}

to_ms() { # wrk latency such as 812.00us, 1.23ms, 1.02s, 2.00m -> milliseconds
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n
	}'
}

ROWS=$TMP/rows # server round rps p50 p99 cpu_us_per_req cpu_pct non2xx errors

run_wrk() { # server url duration round|warmup [wrk args, e.g. -H 'name: value' ...]
	local server=$1 url=$2 duration=$3 round=$4 out=$TMP/wrk-$1-$4.txt
	local t0 t1 c0 c1
	c0=$(server_ticks "$server")
	t0=$(date +%s.%N)
	wrk -t1 -c"$CONNS" -d"$duration" --latency "${@:5}" "$url" >"$out" 2>&1 || {
		cat "$out" >&2
		die "wrk failed against $server"
	}
	t1=$(date +%s.%N)
	c1=$(server_ticks "$server")
	[[ $round == warmup ]] && return 0
	local rps p50 p99 reqs non2xx errors cpu_us cpu_pct
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	reqs=$(awk '/ requests in / {print $1}' "$out")
	non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$out")
	errors=$(awk -F': *' '/Socket errors/ {print $2}' "$out")
	[[ -n $rps && -n $reqs ]] || {
		cat "$out" >&2
		die "cannot read wrk's output for $server"
	}
	read -r cpu_us cpu_pct < <(awk -v d="$((c1 - c0))" -v hz="$CLK_TCK" -v n="$reqs" -v t0="$t0" -v t1="$t1" \
		'BEGIN { s = d / hz; printf "%.1f %.0f\n", (n > 0 ? s / n * 1e6 : 0), (t1 > t0 ? 100 * s / (t1 - t0) : 0) }')
	printf '%s %s %s %s %s %s %s %s %s\n' "$server" "$round" "$rps" "$p50" "$p99" "$cpu_us" "$cpu_pct" \
		"${non2xx:-0}" "$(tr ' ' _ <<<"${errors:-none}")" >>"$ROWS"
	local note="${non2xx:+  non-2xx: $non2xx}${errors:+  socket errors: $errors}"
	printf '%-6s %-8s %12.0f %9.3f %9.3f %10s %6s%%%s\n' "$round" "$server" "$rps" "$p50" "$p99" "$cpu_us" "$cpu_pct" "$note"
}

median() { # numbers on stdin -> their median
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}
col() { awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$ROWS" | median; }

# --- report -----------------------------------------------------------------------------------

report_medians() { # first second title: medians of both, and the ratio first/second
	local a=$1 b=$2 rps_a rps_b s
	rps_a=$(col "$a" 3)
	rps_b=$(col "$b" 3)
	echo
	echo "medians over $ROUNDS round(s):"
	for s in "$a" "$b"; do
		printf '%-6s %-8s %12.0f %9.3f %9.3f %10.1f %6.0f%%\n' median "$s" "$(col "$s" 3)" "$(col "$s" 4)" \
			"$(col "$s" 5)" "$(col "$s" 6)" "$(col "$s" 7)"
	done
	awk -v g="$rps_a" -v n="$rps_b" -v t="$3" 'BEGIN { printf "%s (median req/s): %.3f\n", t, (n > 0 ? g / n : 0) }'
}

header_row() {
	echo
	printf '%-6s %-8s %12s %9s %9s %10s %7s\n' round server 'req/s' 'p50 ms' 'p99 ms' 'CPU us/req' 'CPU'
}

if [[ $CASE == iam ]]; then
	cat <<EOF

Portcullis with and without IAM: the same HTTPS keep-alive route to a local HTTP/1.1 upstream,
once with \`auth: iam\` (SigV4 verification and the caller's policies) and once without
NOTE: nothing is pinned to CPUs. This machine has $(nproc) core(s), shared by wrk, the gateway,
      the upstream and whatever else runs here (load average now: $(cut -d' ' -f1-3 /proc/loadavg)).
      Figures are noisy; the iam/open ratio is more meaningful than the absolutes.
client:   wrk -t1 -c$CONNS -d$DURATION --latency (HTTP/1.1 over TLS, keep-alive), $ROUNDS interleaved rounds, ${WARMUP} warm-up each;
          iam rounds send one set of signed headers (bench-sign), signed again before each round
gateway:  portcullis --workers 1, access log off, TLS: $(tls_of "$GATEWAY_PORT")
open:     ANY /open/{proxy+}               $OPEN_URL    probe: $OPEN_PROBE
iam:      ANY /secure/{proxy+}, auth: iam  $IAM_URL    probe: $IAM_PROBE (unsigned: ${UNSIGNED_PROBE%%,*})
          caller: the bootstrap administrator (AdministratorAccess), access key $AK
upstream: bench-upstream (one thread) on http://127.0.0.1:$UPSTREAM_PORT

EOF
	echo "warming up ($WARMUP each)..."
	run_wrk open "$OPEN_URL" "$WARMUP" warmup
	sign
	run_wrk iam "$IAM_URL" "$WARMUP" warmup "${SIGNED[@]}"
	header_row
	for ((r = 1; r <= ROUNDS; r++)); do
		run_wrk open "$OPEN_URL" "$DURATION" "$r"
		sign
		run_wrk iam "$IAM_URL" "$DURATION" "$r" "${SIGNED[@]}"
	done
	report_medians iam open "ratio iam/open"
	echo "(target: at least 0.85; CPU: time the gateway process used, per request and as a share of one core)"
else
	cat <<EOF

Portcullis vs nginx: HTTPS keep-alive reverse proxy to a local HTTP/1.1 upstream
NOTE: nothing is pinned to CPUs. This machine has $(nproc) core(s), shared by wrk, the proxy,
      the upstream and whatever else runs here (load average now: $(cut -d' ' -f1-3 /proc/loadavg)).
      Figures are noisy; the gateway/nginx ratio is more meaningful than the absolutes.
client:   wrk -t1 -c$CONNS -d$DURATION --latency (HTTP/1.1 over TLS, keep-alive), $ROUNDS interleaved rounds, ${WARMUP} warm-up each
gateway:  portcullis --workers 1, access log off    $GW_URL
          TLS: $(tls_of "$GATEWAY_PORT"); probe: $GW_PROBE
nginx:    nginx $NGINX_VERSION, worker_processes 1, access_log off, upstream keepalive 64    $NGINX_URL
          TLS: $(tls_of "$NGINX_PORT"); probe: $NGINX_PROBE
cert:     the same ECDSA $KEY_TYPE key and certificate for both
upstream: bench-upstream (one thread) on http://127.0.0.1:$UPSTREAM_PORT

EOF
	echo "warming up ($WARMUP each)..."
	run_wrk gateway "$GW_URL" "$WARMUP" warmup
	run_wrk nginx "$NGINX_URL" "$WARMUP" warmup
	header_row
	for ((r = 1; r <= ROUNDS; r++)); do
		run_wrk gateway "$GW_URL" "$DURATION" "$r"
		run_wrk nginx "$NGINX_URL" "$DURATION" "$r"
	done
	report_medians gateway nginx "ratio gateway/nginx"
	echo "(CPU: time the proxy process used, per request and as a share of one core; nginx counts master and worker)"
fi
if awk '$8 != 0 || $9 != "none" { bad = 1 } END { exit !bad }' "$ROWS"; then
	echo "WARNING: some rounds had non-2xx responses or socket errors (see the rows above)"
fi

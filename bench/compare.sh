#!/usr/bin/env bash
# Portcullis against nginx as an HTTPS reverse proxy, on this machine.
#
#   bash bench/compare.sh                       # 3 rounds of 10 s, 32 connections
#   ROUNDS=5 DURATION=20s CONNS=64 bash bench/compare.sh
#   CASE=iam bash bench/compare.sh              # the gateway with and without `auth: iam`
#   CASE=apikey bash bench/compare.sh           # ... with and without an API key and usage plan
#   CASE=apikey-redis bash bench/compare.sh     # the same with the counters on Redis
#   CASE=authorizer bash bench/compare.sh       # ... with and without a custom authorizer
#   CASE=jwt bash bench/compare.sh              # ... with and without a JWT authorizer
#   CASE=logging bash bench/compare.sh          # access logs to encrypted files against plain files
#   CASE=waf bash bench/compare.sh              # the managed WAF groups against no WAF and nginx + ModSecurity + CRS
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
# CASE=apikey measures the cost of API keys, usage plans and throttles the same way: one gateway,
# two routes to the same upstream that differ only in `api_key_required: true`, the stage being
# in a usage plan with a throttle and a daily quota far above what a round reaches (and the
# gateway-wide `throttling` raised to match, as a plan's throttle may not exceed it), in
# interleaved rounds (open, apikey, open, ...); it reports the apikey/open ratio (target: at
# least 0.90). The key is created and attached to the plan after the gateway starts, with
# `portcullis keys create` and `keys attach` signed by the bootstrap administrator's access key;
# wrk sends it in `x-api-key` on every apikey request. USAGE_JOURNAL (request, the default, or
# flush) sets `usage.journal`: each counted request appended to the node's usage journal, or
# only the sums at each flush.
#
# CASE=apikey-redis is CASE=apikey with `shared_state.redis` (REDIS_URL, a key prefix of its
# own, `on_failure: fail_closed` so that an unreachable Redis shows as 503s rather than as quiet
# local counting). Every request of both routes then takes its buckets in one Redis round trip
# (the open route too, for the gateway-wide bucket), so apikey/open compares two routes that are
# both on Redis (target: at least 0.75). A second gateway with the same config but in-process
# counters (label `local`, LOCAL_PORT) runs in the same interleaved rounds (local, open, apikey,
# ...), so the report also gives apikey/local and open/local: the keyed and the open route on
# Redis against the open route in process. The counters under the prefix are deleted at the end
# if redis-cli is installed (they expire on their own otherwise).
#
# CASE=authorizer measures a custom authorizer with its cache hot: one gateway, two routes to the
# same upstream that differ only in `auth: custom` (a TOKEN authorizer whose function is
# bench-upstream's `POST /authorize`, answering a policy that allows the whole API; `ttl: 3600s`),
# in interleaved rounds (open, authorizer, open, ...); wrk sends one bearer token, so after the
# first call every request is answered from the node's cache and the policy is checked against
# its method ARN. It reports the authorizer/open ratio (target: at least 0.90).
#
# CASE=jwt measures a JWT authorizer: one gateway, two routes to the same upstream that differ
# only in `auth: jwt` with a scope (the issuer is bench-upstream, which serves a discovery
# document, a JWKS of one P-256 key and an ES256 access token), in interleaved rounds; wrk
# sends one token, so after the first request its verification is found in the cache (SHA-256
# of the token, the scopes, the claims for the log). It reports jwt/open (target: at least 0.85).
#
# CASE=logging measures access-log encryption: two gateway processes with the same open route,
# both writing every request's access-log line to rotating files (stdout off), one with
# `encrypt: true` (each segment's own KMS data key, AES-256-GCM chunks) and one with
# `encrypt: false` (plain JSON lines), the plain one on LOCAL_PORT, in interleaved rounds (plain,
# encrypted, ...). It reports the encrypted/plain ratio (target: at least 0.95) and the bytes
# each wrote.
#
# Every case raises the gateway-wide `throttling` limit (default 10,000 requests/s, burst 5,000)
# to 1,000,000/s so that no round is throttled; its bucket is still taken on every request.
#
# Needs: cargo, and root with apt-get to install nginx (CASE=nginx only), wrk, openssl and curl
# if missing; for CASE=apikey-redis, a running Redis at REDIS_URL.
# Nothing is pinned to CPUs: on a small shared machine wrk, the proxy and the upstream compete
# for the same cores and the figures are noisy; compare the ratio more than the absolutes.
#
# Env: CASE (nginx, iam, apikey, apikey-redis, authorizer, jwt, logging or waf), ROUNDS (3), DURATION (10s), CONNS (32),
# WARMUP (2s), REDIS_URL (redis://127.0.0.1:6379/0, for CASE=apikey-redis), REDIS_SCOPE (all,
# or plans: only the usage plan on Redis, the gateway's own buckets per node), and the ports
# CASE=waf measures the WAF: one gateway with two APIs to the same upstream that differ only in
# `web_acl` (the managed `known_bad_inputs` and `core` groups at their default sensitivity,
# bench/waf-corpus.yaml's ACL), and nginx with ModSecurity v3 and OWASP CRS at paranoia level 1
# (Debian's libnginx-mod-http-modsecurity and modsecurity-crs, SecRuleEngine On, request body
# access on), in interleaved rounds (open, waf, modsec, ...). Every request is the same typical
# API call: a POST of a 700-byte JSON body with three query arguments (bench/waf-request.lua). It
# reports waf/open (target: at least 0.80) and waf/modsec (target: at least 20).
#
# GATEWAY_PORT (18443), ADMIN_PORT (19443), NGINX_PORT (18444), UPSTREAM_PORT (18081) and
# LOCAL_PORT (18445, the in-process gateway of CASE=apikey-redis, the plain-file one of CASE=logging).

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
LOCAL_PORT=${LOCAL_PORT:-18445}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
REDIS_SCOPE=${REDIS_SCOPE:-all}

die() {
	echo "compare.sh: $*" >&2
	exit 1
}

[[ $CASE == nginx || $CASE == iam || $CASE == apikey || $CASE == apikey-redis || $CASE == authorizer || $CASE == jwt || $CASE == logging || $CASE == waf ]] ||
	die "CASE must be nginx, iam, apikey, apikey-redis, authorizer, jwt, logging or waf, not '$CASE'"
[[ $REDIS_SCOPE == all || $REDIS_SCOPE == plans ]] || die "REDIS_SCOPE must be all or plans, not '$REDIS_SCOPE'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer, not '$CONNS'"
[[ $DURATION =~ ^[0-9]+[smh]?$ ]] || die "DURATION must look like 10s, 1m or 30, not '$DURATION'"
[[ $WARMUP =~ ^[0-9]+[smh]?$ ]] || die "WARMUP must look like 2s, not '$WARMUP'"
if [[ $CASE == apikey-redis ]]; then
	[[ $REDIS_URL =~ ^redis://([^@/]*@)?([^:/@]+)(:([0-9]+))?(/[0-9]+)?$ ]] ||
		die "REDIS_URL must look like redis://[:password@]host[:port][/db], not '$REDIS_URL'"
	REDIS_HOST=${BASH_REMATCH[2]}
	REDIS_PORT=${BASH_REMATCH[4]:-6379}
fi
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
	[[ $CASE != nginx && $CASE != waf ]] || command -v nginx >/dev/null 2>&1 || pkgs+=(nginx)
	if [[ $CASE == waf ]]; then
		[[ -e /usr/lib/nginx/modules/ngx_http_modsecurity_module.so ]] || pkgs+=(libnginx-mod-http-modsecurity)
		[[ -d /usr/share/modsecurity-crs/rules ]] || pkgs+=(modsecurity-crs)
	fi
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
GW_PID='' LOCAL_PID='' UP_PID='' NGINX_PID_FILE=$TMP/nginx/nginx.pid
# Counter names in Redis start with it: this run's own, deleted at the end.
REDIS_PREFIX=bench-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')

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
	stop_pid "$LOCAL_PID" TERM
	stop_pid "$UP_PID" TERM
	wait 2>/dev/null || true
	if [[ $CASE == apikey-redis ]] && command -v redis-cli >/dev/null 2>&1; then
		redis-cli -u "$REDIS_URL" --scan --pattern "$REDIS_PREFIX:*" 2>/dev/null |
			xargs -r -n 100 redis-cli -u "$REDIS_URL" DEL >/dev/null 2>&1 || true
	fi
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

for p in "$GATEWAY_PORT" "$ADMIN_PORT" "$NGINX_PORT" "$UPSTREAM_PORT" "$LOCAL_PORT"; do
	port_open "$p" &&
		die "127.0.0.1:$p is already in use (set GATEWAY_PORT, ADMIN_PORT, NGINX_PORT, UPSTREAM_PORT or LOCAL_PORT)"
done
if [[ $CASE == apikey-redis ]]; then
	(exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT") 2>/dev/null ||
		die "CASE=apikey-redis needs a running Redis at $REDIS_URL (nothing answers on $REDIS_HOST:$REDIS_PORT)"
fi

# --- upstream ---------------------------------------------------------------------------------

"$UP_BIN" "$UPSTREAM_PORT" >"$TMP/upstream.log" 2>&1 &
UP_PID=$!
wait_port "$UPSTREAM_PORT" "$UP_PID" "$TMP/upstream.log"

# --- gateway ----------------------------------------------------------------------------------

route() { # PATH [EXTRA]: one route to the upstream, with an optional extra setting line
	printf '      - route: ANY %s\n' "$1"
	[[ -z ${2:-} ]] || printf '        %s\n' "$2"
	printf '        integration:\n          type: http\n          url: http://127.0.0.1:%s/{proxy}\n' "$UPSTREAM_PORT"
}
# The same HTTP route twice where a case compares; only one setting differs.
if [[ $CASE == iam ]]; then
	ROUTES="$(route '/open/{proxy+}')
$(route '/secure/{proxy+}' 'auth: iam')"
elif [[ $CASE == apikey* ]]; then
	ROUTES="$(route '/open/{proxy+}')
$(route '/keyed/{proxy+}' 'api_key_required: true')"
elif [[ $CASE == authorizer ]]; then
	ROUTES="$(route '/open/{proxy+}')
$(route '/authorized/{proxy+}' 'auth: custom')
        authorizer: tokens
    authorizers:
      - name: tokens
        type: TOKEN
        url: http://127.0.0.1:$UPSTREAM_PORT/authorize
        ttl: 3600s"
elif [[ $CASE == jwt ]]; then
	ROUTES="$(route '/open/{proxy+}')
$(route '/jwt/{proxy+}' 'auth: jwt')
        authorizer: idp
        authorization_scopes: [bench/read]
    jwt_authorizers:
      - name: idp
        issuers:
          - issuer: http://127.0.0.1:$UPSTREAM_PORT
            audiences: [bench]"
elif [[ $CASE == waf ]]; then
	# A second API with the web ACL; the first stays open. Only `web_acl` differs.
	ROUTES="$(route '/open/{proxy+}')
  - name: guarded
    base_path: /waf
    web_acl: corpus
    routes:
$(route '/{proxy+}')"
else
	ROUTES="$(route '/{proxy+}')"
fi
# No round may be throttled: the gateway-wide bucket (default 10,000/s) is raised far above
# what wrk reaches here (a plan's throttle may not exceed it either).
if [[ $CASE == apikey* ]]; then
	# The stage's plan: a throttle and a daily quota that no round reaches.
	PLANS="usage_plans:
  - id: bench
    throttle: {rate: 1000000, burst: 1000000}
    quota: {limit: 1000000000000, period: DAY}
    api_stages:
      - api: bench
        stage: \$default
usage:
  journal: ${USAGE_JOURNAL:-request}"
else
	PLANS=''
fi
SHARED=''
ACCESS_LOG='access_log:
  enabled: false'
file_log() { # true|false: access-log lines to files only, encrypted or not
	printf 'access_log:\n  stdout: false\n  file:\n    encrypt: %s\n' "$1"
}
if [[ $CASE == waf ]]; then
	SHARED=$(sed -n '/^web_acls:/,/^apis:/p' bench/waf-corpus.yaml | sed '$d')
fi
if [[ $CASE == apikey-redis ]]; then
	SHARED="shared_state:
  redis:
    url: $REDIS_URL
    key_prefix: $REDIS_PREFIX
    scope: $REDIS_SCOPE
    on_failure: fail_closed"
fi

gateway_yaml() { # port admin_port|'' data_dir shared_state [access_log]: a gateway's config, with $ROUTES
	local admin="  listen: 127.0.0.1:$2"
	[[ -n $2 ]] || admin="  enabled: false"
	cat <<EOF
listen: 127.0.0.1:$1
admin:
$admin
data_dir: $3
${5:-$ACCESS_LOG}
reload:
  watch: false
shutdown:
  drain_timeout: 2s
throttling:
  rate: 1000000
  burst: 1000000
$PLANS
$4
apis:
  - name: bench
    routes:
$ROUTES
EOF
}

MAIN_LOG=$ACCESS_LOG
[[ $CASE != logging ]] || MAIN_LOG=$(file_log true)
gateway_yaml "$GATEWAY_PORT" "$ADMIN_PORT" "$TMP/gateway-data" "$SHARED" "$MAIN_LOG" >"$TMP/gateway.yaml"
"$GW_BIN" serve --config "$TMP/gateway.yaml" --workers 1 >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
wait_port "$GATEWAY_PORT" "$GW_PID" "$TMP/gateway.log"
if [[ $CASE == apikey-redis ]]; then
	# The same gateway with its counters in process, for the open route without Redis.
	gateway_yaml "$LOCAL_PORT" '' "$TMP/local-data" '' >"$TMP/local.yaml"
	"$GW_BIN" serve --config "$TMP/local.yaml" --workers 1 >"$TMP/local.log" 2>&1 &
	LOCAL_PID=$!
	wait_port "$LOCAL_PORT" "$LOCAL_PID" "$TMP/local.log"
fi
if [[ $CASE == logging ]]; then
	# The same gateway writing plain files.
	gateway_yaml "$LOCAL_PORT" '' "$TMP/local-data" '' "$(file_log false)" >"$TMP/local.yaml"
	"$GW_BIN" serve --config "$TMP/local.yaml" --workers 1 >"$TMP/local.log" 2>&1 &
	LOCAL_PID=$!
	wait_port "$LOCAL_PORT" "$LOCAL_PID" "$TMP/local.log"
fi

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
	local load_modsec='' modsec=''
	if [[ $CASE == waf ]]; then
		# ModSecurity v3 with OWASP CRS (paranoia level 1, crs-setup.conf as shipped), blocking.
		sed -e 's/^SecRuleEngine .*/SecRuleEngine On/' -e 's|^SecUnicodeMapFile unicode.mapping|SecUnicodeMapFile /etc/nginx/unicode.mapping|' \
			-e 's|^SecAuditEngine .*|SecAuditEngine Off|' /etc/nginx/modsecurity.conf >"$NGINX_DIR/modsecurity.conf"
		# CRS's own loader uses IncludeOptional, which libmodsecurity 3 does not know.
		printf 'Include %s\n' "$NGINX_DIR/modsecurity.conf" /etc/modsecurity/crs/crs-setup.conf \
			/etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf '/usr/share/modsecurity-crs/rules/*.conf' \
			/etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf >"$NGINX_DIR/modsec-main.conf"
		load_modsec='load_module /usr/lib/nginx/modules/ngx_http_modsecurity_module.so;'
		modsec="modsecurity on;
	        modsecurity_rules_file $NGINX_DIR/modsec-main.conf;"
	fi
	cat >"$NGINX_DIR/nginx.conf" <<-EOF
	$load_modsec
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

	        $modsec
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
[[ $CASE != nginx && $CASE != waf ]] || start_nginx

# --- sanity checks ----------------------------------------------------------------------------

GW_URL=https://127.0.0.1:$GATEWAY_PORT/bench
NGINX_URL=https://127.0.0.1:$NGINX_PORT/bench
OPEN_URL=https://127.0.0.1:$GATEWAY_PORT/open/bench
IAM_URL=https://127.0.0.1:$GATEWAY_PORT/secure/bench
KEYED_URL=https://127.0.0.1:$GATEWAY_PORT/keyed/bench
AUTHORIZED_URL=https://127.0.0.1:$GATEWAY_PORT/authorized/bench
JWT_URL=https://127.0.0.1:$GATEWAY_PORT/jwt/bench
LOCAL_URL=https://127.0.0.1:$LOCAL_PORT/open/bench
WAF_URL="https://127.0.0.1:$GATEWAY_PORT/waf/v1/orders?expand=items&dry_run=false&lang=es"
WAF_OPEN_URL="https://127.0.0.1:$GATEWAY_PORT/open/v1/orders?expand=items&dry_run=false&lang=es"
MODSEC_URL="https://127.0.0.1:$NGINX_PORT/v1/orders?expand=items&dry_run=false&lang=es"

probe() { # url [curl args]: one request over HTTP/1.1, e.g. "200, 62 B body, 250 B head"
	curl -sk --http1.1 -o /dev/null -w '%{http_code}, %{size_download} B body, %{size_header} B head' "${@:2}" "$1"
}
tls_of() { # port: negotiated protocol and cipher
	openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
		sed -n 's/^New, \([^,]*\), Cipher is \(.*\)$/\1 \2/p' | head -n1
}

if [[ $CASE != nginx ]]; then
	# The first start created the administrator (AdministratorAccess) and printed its key once.
	AK=$(sed -n 's/^ *AWS_ACCESS_KEY_ID=//p' "$TMP/gateway.log" | head -n1)
	SK=$(sed -n 's/^ *AWS_SECRET_ACCESS_KEY=//p' "$TMP/gateway.log" | head -n1)
	[[ -n $AK && -n $SK ]] || {
		show_log "$TMP/gateway.log"
		die "the gateway printed no administrator access key on its first start"
	}
fi
if [[ $CASE == iam ]]; then
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
elif [[ $CASE == apikey* ]]; then
	admin_cli() { # portcullis subcommand ...: through the admin API, as the bootstrap administrator
		env -u AWS_SESSION_TOKEN -u AWS_PROFILE AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" \
			"$GW_BIN" "$@" --endpoint "https://127.0.0.1:$ADMIN_PORT" --ca-file "$CERT"
	}
	json_field() { # name: a top-level string field of the pretty JSON on stdin
		sed -n "s/^  \"$1\": \"\([^\"]*\)\",\{0,1\}\$/\1/p" | head -n1
	}
	KEY_JSON=$(admin_cli keys create --name bench 2>"$TMP/keys-create.err") || {
		cat "$TMP/keys-create.err" >&2
		die "portcullis keys create failed"
	}
	KEY_ID=$(json_field id <<<"$KEY_JSON")
	KEY_VALUE=$(json_field value <<<"$KEY_JSON")
	[[ -n $KEY_ID && -n $KEY_VALUE ]] || die "portcullis keys create printed no id and value"
	admin_cli keys attach "$KEY_ID" --plan bench >"$TMP/keys-attach.out" 2>&1 || {
		cat "$TMP/keys-attach.out" >&2
		die "portcullis keys attach $KEY_ID --plan bench failed"
	}
	KEYED=(-H "x-api-key: $KEY_VALUE")
	OPEN_PROBE=$(probe "$OPEN_URL")
	KEYED_PROBE=$(probe "$KEYED_URL" "${KEYED[@]}")
	NOKEY_PROBE=$(probe "$KEYED_URL")
	[[ $OPEN_PROBE == 200,* ]] || die "the open route answered '$OPEN_PROBE' instead of 200"
	[[ $KEYED_PROBE == 200,* ]] || die "the keyed route answered '$KEYED_PROBE' to a request with the key instead of 200"
	[[ $NOKEY_PROBE == 403,* ]] || die "the keyed route answered '$NOKEY_PROBE' to a request without a key instead of 403"
	if [[ $CASE == apikey-redis ]]; then
		LOCAL_PROBE=$(probe "$LOCAL_URL")
		[[ $LOCAL_PROBE == 200,* ]] || die "the in-process gateway's open route answered '$LOCAL_PROBE' instead of 200"
	fi
elif [[ $CASE == authorizer ]]; then
	TOKEN=(-H "authorization: Bearer bench-7f3c9a1e5b2d4c6f8a0b")
	OPEN_PROBE=$(probe "$OPEN_URL")
	AUTHORIZED_PROBE=$(probe "$AUTHORIZED_URL" "${TOKEN[@]}")
	NOTOKEN_PROBE=$(probe "$AUTHORIZED_URL")
	[[ $OPEN_PROBE == 200,* ]] || die "the open route answered '$OPEN_PROBE' instead of 200"
	[[ $AUTHORIZED_PROBE == 200,* ]] || die "the authorizer route answered '$AUTHORIZED_PROBE' to a request with a token instead of 200"
	[[ $NOTOKEN_PROBE == 401,* ]] || die "the authorizer route answered '$NOTOKEN_PROBE' to a request without a token instead of 401"
elif [[ $CASE == jwt ]]; then
	TOKEN=(-H "authorization: Bearer $(curl -sf "http://127.0.0.1:$UPSTREAM_PORT/token")")
	OPEN_PROBE=$(probe "$OPEN_URL")
	JWT_PROBE=$(probe "$JWT_URL" "${TOKEN[@]}")
	NOTOKEN_PROBE=$(probe "$JWT_URL")
	[[ $OPEN_PROBE == 200,* ]] || die "the open route answered '$OPEN_PROBE' instead of 200"
	[[ $JWT_PROBE == 200,* ]] || die "the JWT route answered '$JWT_PROBE' to a request with a token instead of 200"
	[[ $NOTOKEN_PROBE == 401,* ]] || die "the JWT route answered '$NOTOKEN_PROBE' to a request without a token instead of 401"
elif [[ $CASE == logging ]]; then
	ENC_URL=$GW_URL
	PLAIN_URL=https://127.0.0.1:$LOCAL_PORT/bench
	ENC_PROBE=$(probe "$ENC_URL")
	PLAIN_PROBE=$(probe "$PLAIN_URL")
	[[ $ENC_PROBE == 200,* ]] || die "the encrypted-log gateway answered '$ENC_PROBE' instead of 200"
	[[ $PLAIN_PROBE == 200,* ]] || die "the plain-log gateway answered '$PLAIN_PROBE' instead of 200"
elif [[ $CASE == waf ]]; then
	: # probed with the request body before measuring, below
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

server_ticks() { # nginx, or a gateway label (gateway, open, iam, apikey, authorizer; local: the in-process one)
	local total=0 pid
	if [[ $1 == nginx ]]; then
		for pid in $(nginx_pids); do total=$((total + $(proc_ticks "$pid"))); done
	elif [[ $1 == local || $1 == plain ]]; then
		total=$(proc_ticks "$LOCAL_PID")
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

medians() { # server...: the median of each column over the rounds, per server
	local s
	echo
	echo "medians over $ROUNDS round(s):"
	for s in "$@"; do
		printf '%-6s %-8s %12.0f %9.3f %9.3f %10.1f %6.0f%%\n' median "$s" "$(col "$s" 3)" "$(col "$s" 4)" \
			"$(col "$s" 5)" "$(col "$s" 6)" "$(col "$s" 7)"
	done
}

ratio() { # first second title: the ratios first/second of the median req/s and CPU per request
	awk -v g="$(col "$1" 3)" -v n="$(col "$2" 3)" -v cg="$(col "$1" 6)" -v cn="$(col "$2" 6)" -v t="$3" 'BEGIN {
		printf "%s (median req/s): %.3f   (median CPU us/req): %.3f\n", t, (n > 0 ? g / n : 0), (cn > 0 ? cg / cn : 0)
	}'
}

report_medians() { # first second title: medians of both, and the ratios first/second
	medians "$1" "$2"
	ratio "$1" "$2" "$3"
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
elif [[ $CASE == apikey* ]]; then
	if [[ $CASE == apikey-redis ]]; then
		COUNTERS="on Redis ($REDIS_URL, key_prefix $REDIS_PREFIX, on_failure: fail_closed): one round trip per request, both routes"
	else
		COUNTERS="in process"
	fi
	cat <<EOF

Portcullis with and without an API key: the same HTTPS keep-alive route to a local HTTP/1.1
upstream, once with \`api_key_required: true\` (the key's HMAC and cached lookup, its usage plan's
throttle and daily quota, usage tallied) and once without
NOTE: nothing is pinned to CPUs. This machine has $(nproc) core(s), shared by wrk, the gateway,
      the upstream and whatever else runs here (load average now: $(cut -d' ' -f1-3 /proc/loadavg)).
      Figures are noisy; the apikey/open ratio is more meaningful than the absolutes.
client:   wrk -t1 -c$CONNS -d$DURATION --latency (HTTP/1.1 over TLS, keep-alive), $ROUNDS interleaved rounds, ${WARMUP} warm-up each;
          apikey rounds send x-api-key with a key made by \`portcullis keys create\` and attached to plan bench
gateway:  portcullis --workers 1, access log off, TLS: $(tls_of "$GATEWAY_PORT")
          throttling 1000000/s burst 1000000; plan bench: throttle 1000000/s burst 1000000, quota 10^12 per DAY
counters: $COUNTERS
open:     ANY /open/{proxy+}                          $OPEN_URL    probe: $OPEN_PROBE
apikey:   ANY /keyed/{proxy+}, api_key_required: true  $KEYED_URL    probe: $KEYED_PROBE (no key: ${NOKEY_PROBE%%,*})
          key $KEY_ID in plan bench
EOF
	if [[ $CASE == apikey-redis ]]; then
		cat <<EOF
local:    the same config without shared_state (counters in process), a second gateway process
          (--workers 1, admin off)    $LOCAL_URL    probe: $LOCAL_PROBE
EOF
	fi
	cat <<EOF
upstream: bench-upstream (one thread) on http://127.0.0.1:$UPSTREAM_PORT

EOF
	SERVERS=(open apikey)
	[[ $CASE == apikey-redis ]] && SERVERS=(local open apikey)
	run_server() { # server duration round
		case $1 in
		local) run_wrk local "$LOCAL_URL" "$2" "$3" ;;
		open) run_wrk open "$OPEN_URL" "$2" "$3" ;;
		apikey) run_wrk apikey "$KEYED_URL" "$2" "$3" "${KEYED[@]}" ;;
		esac
	}
	echo "warming up ($WARMUP each)..."
	for s in "${SERVERS[@]}"; do run_server "$s" "$WARMUP" warmup; done
	header_row
	for ((r = 1; r <= ROUNDS; r++)); do
		for s in "${SERVERS[@]}"; do run_server "$s" "$DURATION" "$r"; done
	done
	medians "${SERVERS[@]}"
	if [[ $CASE == apikey-redis ]]; then
		ratio apikey open "ratio apikey/open, both on Redis"
		ratio apikey local "ratio apikey on Redis/open in process"
		ratio open local "ratio open on Redis/open in process"
		echo "(target: apikey/open at least 0.75 on Redis; CPU: time each gateway process used, per request and as a share of one core)"
	else
		ratio apikey open "ratio apikey/open"
		echo "(target: at least 0.90; CPU: time the gateway process used, per request and as a share of one core)"
	fi
elif [[ $CASE == authorizer ]]; then
	cat <<EOF

Portcullis with and without a custom authorizer: the same HTTPS keep-alive route to a local
HTTP/1.1 upstream, once with \`auth: custom\` (a TOKEN authorizer, its answer cached: the token's
HMAC, the node's cache, the policy checked against the method ARN) and once without
NOTE: nothing is pinned to CPUs. This machine has $(nproc) core(s), shared by wrk, the gateway,
      the upstream and whatever else runs here (load average now: $(cut -d' ' -f1-3 /proc/loadavg)).
      Figures are noisy; the authorizer/open ratio is more meaningful than the absolutes.
client:   wrk -t1 -c$CONNS -d$DURATION --latency (HTTP/1.1 over TLS, keep-alive), $ROUNDS interleaved rounds, ${WARMUP} warm-up each;
          authorizer rounds send one bearer token
gateway:  portcullis --workers 1, access log off, TLS: $(tls_of "$GATEWAY_PORT")
open:       ANY /open/{proxy+}                     $OPEN_URL    probe: $OPEN_PROBE
authorizer: ANY /authorized/{proxy+}, auth: custom $AUTHORIZED_URL    probe: $AUTHORIZED_PROBE (no token: ${NOTOKEN_PROBE%%,*})
            function: POST http://127.0.0.1:$UPSTREAM_PORT/authorize (bench-upstream), ttl 3600s
upstream: bench-upstream (one thread) on http://127.0.0.1:$UPSTREAM_PORT

EOF
	echo "warming up ($WARMUP each)..."
	run_wrk open "$OPEN_URL" "$WARMUP" warmup
	run_wrk authorizer "$AUTHORIZED_URL" "$WARMUP" warmup "${TOKEN[@]}"
	header_row
	for ((r = 1; r <= ROUNDS; r++)); do
		run_wrk open "$OPEN_URL" "$DURATION" "$r"
		run_wrk authorizer "$AUTHORIZED_URL" "$DURATION" "$r" "${TOKEN[@]}"
	done
	report_medians authorizer open "ratio authorizer/open"
	echo "(target: at least 0.90; CPU: time the gateway process used, per request and as a share of one core)"
elif [[ $CASE == jwt ]]; then
	cat <<EOF

Portcullis with and without a JWT authorizer: the same HTTPS keep-alive route to a local
HTTP/1.1 upstream, once with \`auth: jwt\` and a scope (an ES256 access token, verified once and
then found in the cache: SHA-256 of the token, the scope, the claims) and once without
NOTE: nothing is pinned to CPUs. This machine has $(nproc) core(s), shared by wrk, the gateway,
      the upstream and whatever else runs here (load average now: $(cut -d' ' -f1-3 /proc/loadavg)).
      Figures are noisy; the jwt/open ratio is more meaningful than the absolutes.
client:   wrk -t1 -c$CONNS -d$DURATION --latency (HTTP/1.1 over TLS, keep-alive), $ROUNDS interleaved rounds, ${WARMUP} warm-up each;
          jwt rounds send one bearer token
gateway:  portcullis --workers 1, access log off, TLS: $(tls_of "$GATEWAY_PORT")
open: ANY /open/{proxy+}            $OPEN_URL    probe: $OPEN_PROBE
jwt:  ANY /jwt/{proxy+}, auth: jwt  $JWT_URL    probe: $JWT_PROBE (no token: ${NOTOKEN_PROBE%%,*})
      issuer: http://127.0.0.1:$UPSTREAM_PORT (bench-upstream: discovery, JWKS, token)
upstream: bench-upstream (one thread) on http://127.0.0.1:$UPSTREAM_PORT

EOF
	echo "warming up ($WARMUP each)..."
	run_wrk open "$OPEN_URL" "$WARMUP" warmup
	run_wrk jwt "$JWT_URL" "$WARMUP" warmup "${TOKEN[@]}"
	header_row
	for ((r = 1; r <= ROUNDS; r++)); do
		run_wrk open "$OPEN_URL" "$DURATION" "$r"
		run_wrk jwt "$JWT_URL" "$DURATION" "$r" "${TOKEN[@]}"
	done
	report_medians jwt open "ratio jwt/open"
	echo "(target: at least 0.85; CPU: time the gateway process used, per request and as a share of one core)"
elif [[ $CASE == logging ]]; then
	cat <<EOF

Portcullis access logs to encrypted files against plain files: two gateway processes with the
same open HTTPS keep-alive route to a local HTTP/1.1 upstream, each writing one access-log line
per request to rotating files in its data_dir (stdout off); only \`access_log.file.encrypt\` differs
NOTE: nothing is pinned to CPUs. This machine has $(nproc) core(s), shared by wrk, the gateways,
      the upstream and whatever else runs here (load average now: $(cut -d' ' -f1-3 /proc/loadavg)).
      Figures are noisy; the encrypted/plain ratio is more meaningful than the absolutes.
client:    wrk -t1 -c$CONNS -d$DURATION --latency (HTTP/1.1 over TLS, keep-alive), $ROUNDS interleaved rounds, ${WARMUP} warm-up each
gateways:  portcullis --workers 1 each, TLS: $(tls_of "$GATEWAY_PORT")
encrypted: encrypt: true   $ENC_URL    probe: $ENC_PROBE
plain:     encrypt: false  $PLAIN_URL    probe: $PLAIN_PROBE
upstream:  bench-upstream (one thread) on http://127.0.0.1:$UPSTREAM_PORT

EOF
	echo "warming up ($WARMUP each)..."
	run_wrk plain "$PLAIN_URL" "$WARMUP" warmup
	run_wrk encrypted "$ENC_URL" "$WARMUP" warmup
	header_row
	for ((r = 1; r <= ROUNDS; r++)); do
		run_wrk plain "$PLAIN_URL" "$DURATION" "$r"
		run_wrk encrypted "$ENC_URL" "$DURATION" "$r"
	done
	report_medians encrypted plain "ratio encrypted/plain"
	echo "(target: at least 0.95; CPU: time each gateway process used, per request and as a share of one core)"
	echo "written: encrypted $(du -sb "$TMP/gateway-data/logs" | cut -f1) B, plain $(du -sb "$TMP/local-data/logs" | cut -f1) B"
elif [[ $CASE == waf ]]; then
	LUA=(-s bench/waf-request.lua)
	post_probe() { probe "$1" -X POST -H 'content-type: application/json' --data-binary @bench/waf-request.json; }
	OPEN_PROBE=$(post_probe "$WAF_OPEN_URL")
	WAF_PROBE=$(post_probe "$WAF_URL")
	MODSEC_PROBE=$(post_probe "$MODSEC_URL")
	ATTACK_WAF=$(probe "$WAF_URL&q=1%27%20UNION%20SELECT%20password%20FROM%20users--")
	ATTACK_MODSEC=$(probe "$MODSEC_URL&q=1%27%20UNION%20SELECT%20password%20FROM%20users--")
	cat <<EOF

Portcullis's WAF against no WAF and against nginx + ModSecurity + CRS: a 700-byte JSON POST with a
query, over HTTPS keep-alive, to a local HTTP/1.1 upstream
NOTE: nothing is pinned to CPUs. This machine has $(nproc) core(s), shared by wrk, the proxies,
      the upstream and whatever else runs here (load average now: $(cut -d' ' -f1-3 /proc/loadavg)).
      Figures are noisy; the ratios are more meaningful than the absolutes.
client:   wrk -t1 -c$CONNS -d$DURATION --latency -s bench/waf-request.lua, $ROUNDS interleaved rounds, ${WARMUP} warm-up each
gateway:  portcullis --workers 1, access log off, TLS: $(tls_of "$GATEWAY_PORT")
open:     API without web_acl       probe: $OPEN_PROBE
waf:      API with web_acl corpus   probe: $WAF_PROBE; an SQL injection: ${ATTACK_WAF%%,*}
modsec:   nginx $NGINX_VERSION + ModSecurity v3 + OWASP CRS $(dpkg-query -W -f '${Version}' modsecurity-crs 2>/dev/null) (paranoia 1), worker_processes 1
          probe: $MODSEC_PROBE; an SQL injection: ${ATTACK_MODSEC%%,*}
upstream: bench-upstream (one thread) on http://127.0.0.1:$UPSTREAM_PORT

EOF
	[[ ${WAF_PROBE%%,*} == 200 && ${ATTACK_WAF%%,*} == 403 && ${MODSEC_PROBE%%,*} == 200 && ${ATTACK_MODSEC%%,*} == 403 ]] ||
		die "a probe did not answer as expected (the request must pass both WAFs, the injection be refused by both)"
	echo "warming up ($WARMUP each)..."
	run_wrk open "$WAF_OPEN_URL" "$WARMUP" warmup "${LUA[@]}"
	run_wrk waf "$WAF_URL" "$WARMUP" warmup "${LUA[@]}"
	run_wrk nginx "$MODSEC_URL" "$WARMUP" warmup "${LUA[@]}"
	header_row
	for ((r = 1; r <= ROUNDS; r++)); do
		run_wrk open "$WAF_OPEN_URL" "$DURATION" "$r" "${LUA[@]}"
		run_wrk waf "$WAF_URL" "$DURATION" "$r" "${LUA[@]}"
		run_wrk nginx "$MODSEC_URL" "$DURATION" "$r" "${LUA[@]}"
	done
	medians open waf nginx
	ratio waf open "ratio waf/open"
	ratio waf nginx "ratio waf/(nginx + ModSecurity + CRS)"
	echo "(targets: waf/open at least 0.80, waf/modsec at least 20; CPU: time each proxy process used, per request)"
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

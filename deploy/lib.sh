# Shell functions shared by deploy/stack (one Kafka broker, one ClickHouse server) and
# deploy/cluster (ZooKeeper, three brokers, four ClickHouse servers). Sourced, never run.
#
# The sourcing script sets, before it calls anything here:
#   PROG        its name, the prefix of its messages ("stack", "cluster")
#   here        the deploy/ folder
#   STATE       its state folder (logs of installs land there)
#   UP_TIMEOUT  seconds a process may take to answer
# and, for the ClickHouse functions, the variables parse_clickhouse_config sets.
# Its functions read those variables and set arrays (KAFKA_JAVA, CLICKHOUSE_SERVER) for them:
# shellcheck shell=bash disable=SC2034,SC2154

die() { echo "$PROG: $*" >&2; exit 1; }
say() { echo "$PROG: $*"; }

# --- processes ---------------------------------------------------------------------------

# A pid file counts only while its process is alive and is ours: one of its arguments is the
# MARKER (the process's own config file, e.g. .state/kafka/server.properties) or ends in
# =MARKER (--config-file=...). The whole argument must match, so a state folder nested in
# another (.state and .state/cluster) never claims the other's processes. Anything else is
# stale and removed.
live_pid() {
  local pidfile=$1 marker=$2 pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] \
    && tr '\0' '\n' <"/proc/$pid/cmdline" | MARKER=$marker awk '
         BEGIN { m = ENVIRON["MARKER"] }
         $0 == m || (length($0) > length(m) && substr($0, length($0) - length(m)) == "=" m) { found = 1 }
         END { exit !found }'; then
    echo "$pid"
    return 0
  fi
  rm -f "$pidfile"
  return 1
}

port_holder() {
  # users:(("java",pid=123,fd=45)) -> java (pid 123)
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' | head -n1
}

port_taken() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

require_port_free() {
  local port=$1 what=$2
  if port_taken "$port"; then
    local holder
    holder=$(port_holder "$port")
    die "port $port ($what) is already taken${holder:+ by $holder}; stop that process${PORT_REMEDY- or choose another port (README, Configuration)}"
  fi
}

# Starts "$@" detached as a process of its own session (setsid: it outlives this script and
# gets no signal from the caller's terminal), output appended to LOGFILE, in folder DIR;
# writes its pid to PIDFILE.
spawn() {
  local pidfile=$1 logfile=$2 dir=$3
  shift 3
  setsid bash -c "cd \"\$1\" && shift && exec \"\$@\" >>\"\$0\" 2>&1 </dev/null" "$logfile" "$dir" "$@" &
  echo $! >"$pidfile"
}

stop_pid() {
  local name=$1 pidfile=$2 marker=$3 pid
  pid=$(live_pid "$pidfile" "$marker") || { say "$name is not running"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "$name stopped (pid $pid)"; return 0; }
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  say "$name did not stop in 30 s; killed (pid $pid)"
}

# wait_until WHAT LOGFILE PIDFILE MARKER COMMAND...: until COMMAND succeeds, while the process
# lives, for at most UP_TIMEOUT seconds.
wait_until() {
  local what=$1 logfile=$2 pidfile=$3 marker=$4
  shift 4
  local deadline=$((SECONDS + UP_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! live_pid "$pidfile" "$marker" >/dev/null; then
      echo "--- last lines of $logfile" >&2
      tail -n 30 "$logfile" >&2 || true
      die "$what exited while starting (log above: $logfile)"
    fi
    ((SECONDS < deadline)) || die "$what did not answer within ${UP_TIMEOUT}s; see $logfile"
    sleep 0.5
  done
}

rss() { awk '/VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$1/status" 2>/dev/null; }

# --- Java and Maven ----------------------------------------------------------------------

require_java() {
  local what=$1 major
  command -v java >/dev/null || die "java not found: install a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)"
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  ((major >= 17)) || die "$what needs Java 17 or newer; java here is version $major"
}

# mvn_resolve WHAT POM OUTDIR LOGFILE [-Dprop=value...]: the runtime jars of POM's
# dependencies, from Maven Central, into OUTDIR (marked complete with OUTDIR/.complete).
mvn_resolve() {
  local what=$1 pom=$2 out=$3 log=$4
  shift 4
  [[ -f $out/.complete ]] && return 0
  command -v mvn >/dev/null || die "mvn not found: $what's jars are resolved from Maven Central with Maven (Debian: apt-get install maven)"
  say "resolving $what from Maven Central into $out"
  mkdir -p "$out" "$(dirname "$log")"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    "$@" -DincludeScope=runtime -DoutputDirectory="$out" >"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; die "mvn could not resolve $what (network to Maven Central?); log: $log"; }
  touch "$out/.complete"
}

# kafka_install LIBS LOGFILE: Kafka $KAFKA_VERSION's jars in LIBS.
kafka_install() {
  require_java "Kafka $KAFKA_VERSION"
  mvn_resolve "Apache Kafka $KAFKA_VERSION" "$here/kafka/pom.xml" "$1" "$2" -Dkafka.version="$KAFKA_VERSION"
}

# kafka_java LIBS HEAP_MAX HEAP_START: sets KAFKA_JAVA, the command line of a Kafka JVM up to
# its main class. Heap and GC threads sized for a 2-core box shared with ClickHouse and the
# workers.
kafka_java() {
  KAFKA_JAVA=(java -Xms"$3" -Xmx"$2" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:ParallelGCThreads=2 -XX:ConcGCThreads=1 -XX:CICompilerCount=2
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$here/kafka/log4j2.properties"
    -Dfrontline.state="$STATE" -cp "$1/*")
}

# A new KRaft cluster id, like Kafka's Uuid.randomUuid: never starting with '-', which the
# formatter reads as a flag.
kafka_cluster_id() {
  python3 -c 'import base64,uuid
while (c := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(c)'
}

# --- ClickHouse --------------------------------------------------------------------------

# The only databases the writer and the dashboard user may reach: the deployment's, its demo's,
# an audit and a replay database, and a pool for the test suite (tests/conftest.py).
default_databases() {
  local db=$CH_DATABASE i
  printf '%s ' "$db" "${db}_demo" "${db}_audit" "${db}_replay"
  for i in 0 1 2 3 4 5 6 7; do printf '%s ' "${db}_t$i" "${db}_t${i}_replay"; done
}

# Sets CH_USER CH_PASSWORD CH_HOST CH_NATIVE_PORT from FRONTLINE_CLICKHOUSE_URL, and
# CH_DATABASE CH_DATABASES DASHBOARD_PASSWORD; dies naming the variable that is wrong.
parse_clickhouse_config() {
  CH_URL=${FRONTLINE_CLICKHOUSE_URL:-clickhouse://frontline:frontline-local@127.0.0.1:9000}
  DASHBOARD_PASSWORD=${FRONTLINE_DASHBOARD_PASSWORD:-dashboard-local}
  CH_DATABASE=${FRONTLINE_CLICKHOUSE_DATABASE:-frontline}
  CH_DATABASES=${FRONTLINE_CLICKHOUSE_DATABASES:-$(default_databases)}
  # clickhouse://USER:PASSWORD@HOST:PORT -> four lines (python3 parses; it is on every machine)
  { IFS= read -r CH_USER; IFS= read -r CH_PASSWORD; IFS= read -r CH_HOST; IFS= read -r CH_NATIVE_PORT; } < <(python3 - "$CH_URL" <<'EOF'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
try:
    port = u.port or 9000
except ValueError:
    port = -1
ok = u.scheme == "clickhouse" and u.hostname and port > 0
print(urllib.parse.unquote(u.username or "frontline"), urllib.parse.unquote(u.password or ""),
      u.hostname if ok else "-", port if ok else "-", sep="\n")
EOF
  )
  [[ $CH_NATIVE_PORT == - ]] && die "FRONTLINE_CLICKHOUSE_URL='$CH_URL' is not clickhouse://USER:PASSWORD@HOST:PORT"
  case $CH_HOST in 127.0.0.1|localhost) ;; *) die "FRONTLINE_CLICKHOUSE_URL points at $CH_HOST: the local $PROG listens on 127.0.0.1 only";; esac
  [[ $CH_USER == frontline ]] || die "FRONTLINE_CLICKHOUSE_URL user is '$CH_USER': the local $PROG creates the writer user 'frontline'"
  [[ -n $CH_PASSWORD ]] || die "FRONTLINE_CLICKHOUSE_URL has no password: give clickhouse://frontline:PASSWORD@127.0.0.1:9000"
  local db
  for db in ${CH_DATABASES//,/ }; do
    [[ $db =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] || die "FRONTLINE_CLICKHOUSE_DATABASES: '$db' is not a database name (letters, digits, _)"
  done
}

clickhouse_bin() {
  command -v clickhouse-server 2>/dev/null || { [[ -x /usr/bin/clickhouse ]] && echo /usr/bin/clickhouse; }
}

clickhouse_install() {
  [[ -n $(clickhouse_bin) ]] && return 0
  command -v apt-get >/dev/null || die "clickhouse-server not found and no apt-get: install ClickHouse server, or use deploy/docker-compose.yml"
  ((EUID == 0)) || die "clickhouse-server not found: run 'sudo apt-get install clickhouse-server' (or run this script as root)"
  say "installing Debian's clickhouse-server with apt-get"
  # policy-rc.d: the package must not start its own system service; we run our own server.
  local policy=/usr/sbin/policy-rc.d created=0
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created=1; fi
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clickhouse-server >"$STATE/apt.log" 2>&1 \
    || { apt-get update -q >>"$STATE/apt.log" 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clickhouse-server >>"$STATE/apt.log" 2>&1; }; } \
    || { ((created)) && rm -f "$policy"; tail -n 20 "$STATE/apt.log" >&2; die "apt-get could not install clickhouse-server (log: $STATE/apt.log)"; }
  ((created)) && rm -f "$policy"
  [[ -n $(clickhouse_bin) ]] || die "clickhouse-server was installed but no server binary was found"
}

# The server's command line up to its options: Debian's clickhouse-server, or the combined
# `clickhouse server` binary.
clickhouse_server_cmd() {
  local bin
  bin=$(clickhouse_bin)
  if [[ $bin == */clickhouse ]]; then CLICKHOUSE_SERVER=("$bin" server); else CLICKHOUSE_SERVER=("$bin"); fi
}

sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# For sed's replacement text (delimiter #): escapes \ & # and newlines.
sed_quote() { printf '%s' "$1" | sed -e 's/[\\&#]/\\&/g' -e '$!s/$/\\/'; }

xml_escape() {
  local s=${1//&/&amp;}
  s=${s//</&lt;}
  s=${s//>/&gt;}
  printf '%s' "$s"
}

# render_users FILE [DEFAULT_SETTINGS [DASHBOARD_SETTINGS]]: users.xml from its template; prints
# "changed" when FILE was rewritten. The settings (XML) take the place of the template's
# @CLUSTER_DEFAULT_SETTINGS@ / @CLUSTER_DASHBOARD_SETTINGS@ lines in the two profiles; without
# them those lines are dropped (the single stack's users.xml).
render_users() {
  local file=$1 default_extra=${2:-} dashboard_extra=${3:-} allowed="" db new
  for db in ${CH_DATABASES//,/ }; do allowed+="<database>$db</database>"; done
  local extra=()
  if [[ -n $default_extra ]]; then
    # A setting may appear once in a profile (18.16 refuses load_balancing[1]): the cluster's
    # load_balancing replaces the template's.
    extra+=(-e '/<load_balancing>random<\/load_balancing>/d')
    extra+=(-e "s#^\( *\)<!-- @CLUSTER_DEFAULT_SETTINGS@ .*#\1$(sed_quote "$default_extra")#")
  else
    extra+=(-e '/<!-- @CLUSTER_DEFAULT_SETTINGS@ /d')
  fi
  if [[ -n $dashboard_extra ]]; then
    extra+=(-e "s#^\( *\)<!-- @CLUSTER_DASHBOARD_SETTINGS@ .*#\1$(sed_quote "$dashboard_extra")#")
  else
    extra+=(-e '/<!-- @CLUSTER_DASHBOARD_SETTINGS@ /d')
  fi
  new=$(sed "${extra[@]}" -e "s#@WRITER_SHA256@#$(sha256 "$CH_PASSWORD")#g" \
    -e "s#@DASHBOARD_SHA256@#$(sha256 "$DASHBOARD_PASSWORD")#g" \
    -e "s#@ALLOWED_DATABASES@#$allowed#g" "$here/clickhouse/users.xml.in")
  if [[ ! -f $file ]] || [[ $new != "$(<"$file")" ]]; then
    printf '%s\n' "$new" >"$file"
    echo changed
  fi
}

# A running server (HTTP port $1) takes new config files at once: the writer may reload them.
# Where the writer's password is what changed, the server knows it only once it has reread
# users.xml by itself (it checks its files every few seconds): try for 15 s.
reload_clickhouse_config() {
  python3 - "$1" "$CH_USER" "$CH_PASSWORD" <<'PY'
import sys, time, urllib.error, urllib.request
port, user, password = sys.argv[1:4]
request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=b"SYSTEM RELOAD CONFIG")
request.add_header("X-ClickHouse-User", user)
request.add_header("X-ClickHouse-Key", password)
deadline = time.monotonic() + 15
while True:
    try:
        urllib.request.urlopen(request, timeout=10).read()
        break
    except urllib.error.HTTPError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
PY
}

# ops_lib.sh: shared by tests/sh/ops_*.sh. Starts `recwatch run --listen 127.0.0.1:0 ...`,
# reads the listener's URL from its log, and fetches pages from it.
set -u
: "${RECWATCH:?RECWATCH must point at the recwatch binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/opstest.XXXXXX")
RW_PID=
ops_cleanup() {
  if [ -n "$RW_PID" ]; then
    kill "$RW_PID" 2>/dev/null
    wait "$RW_PID" 2>/dev/null
  fi
  if [ -n "${EXTRA_PIDS:-}" ]; then kill $EXTRA_PIDS 2>/dev/null; wait $EXTRA_PIDS 2>/dev/null; fi
  rm -rf "$T"
}
trap ops_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -s "$T/rw.err" ]; then
    echo "--- recwatch stderr (last 40 lines):" >&2
    tail -40 "$T/rw.err" >&2
  fi
  exit 1
}

# need_prometheus_tool NAME: NAME (prometheus, promtool: Debian's package prometheus) is
# installed; else the test fails in CI (a skip would pass and prove nothing) and is skipped
# (exit 77) elsewhere.
need_prometheus_tool() {
  command -v "$1" >/dev/null && return 0
  [ "${CI:-}" = true ] && fail "$1 missing (Debian package prometheus, .ci/deps)"
  echo "SKIP: $1 is not installed (bash .ci/deps installs it)"
  exit 77
}

# doc_rules: the alert rules docs/operations.md gives (its yaml block that starts with
# "groups:") into $T/rules.yml.
doc_rules() {
  : "${SRC:?}"
  python3 - "$SRC/docs/operations.md" >"$T/rules.yml" <<'PY' || fail "no rules block in docs/operations.md"
import re, sys
blocks = [b for b in re.findall(r"```yaml\n(.*?)```", open(sys.argv[1]).read(), re.S) if b.startswith("groups:")]
sys.stdout.write(blocks[0])
PY
}

# rw_start ARGS...: runs `recwatch ARGS` in the background (stderr in $T/rw.err, stdout in
# $T/rw.out); when the args include --listen, waits for the URL and sets URL.
rw_start() {
  local i
  : >"$T/rw.err"
  "$RECWATCH" "$@" >"$T/rw.out" 2>"$T/rw.err" &
  RW_PID=$!
  URL=
  case " $* " in *" --listen "*) ;; *) return 0 ;; esac
  for i in $(seq 200); do
    URL=$(sed -n 's/.*listening on \(http:[^ ]*\) .*/\1/p' "$T/rw.err" | head -1)
    [ -n "$URL" ] && break
    kill -0 "$RW_PID" 2>/dev/null || fail "recwatch exited early"
    sleep 0.05
  done
  [ -n "$URL" ] || fail "no 'listening on' line"
}

# code PATH: the HTTP status of GET $URL$PATH (body in $T/body)
code() { curl -s -o "$T/body" -w '%{http_code}' --max-time 5 "$URL$1"; }

# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds; 1 when it never does.
wait_for() {
  local n=$(( $1 * 10 )) i
  shift
  for i in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

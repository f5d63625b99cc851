# ci_tools (issue 20 item 21, Tools): in CI (CI=true) a missing promtool, prometheus,
# prometheus-alertmanager, amtool, systemd-analyze or clang fails .ci/tools, which .ci/run runs before building, instead of the
# tests skipping and the run passing; outside CI the same absence is only reported. Each tool
# is taken away in turn from a PATH of stand-ins (the check is about presence, so the machine
# need not have them). Also: .ci/deps installs clang and libFuzzer's runtime, .ci/run calls
# .ci/tools and fails without clang in CI.
set -eu
: "${SRC:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/citools.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
all="promtool prometheus prometheus-alertmanager amtool systemd-analyze clang curl jq openssl python3"
BASH_BIN=$(command -v bash)

# path_without TOOL: a directory of stand-ins for every tool but TOOL
path_without() {
  local x
  rm -rf "$T/bin"; mkdir -p "$T/bin"
  for x in $all; do
    [ "$x" = "$1" ] && continue
    printf "#!/bin/sh\nexit 0\n" >"$T/bin/$x"; chmod +x "$T/bin/$x"
  done
}

path_without none
env -i PATH="$T/bin" CI=true "$BASH_BIN" "$SRC/.ci/tools" >"$T/out" 2>&1 || fail "all tools there, CI: $(cat "$T/out")"
for t in promtool prometheus prometheus-alertmanager amtool systemd-analyze clang jq; do
  path_without "$t"
  for ci in true 1; do
    if env -i PATH="$T/bin" CI=$ci "$BASH_BIN" "$SRC/.ci/tools" >"$T/out" 2>&1; then
      fail "CI=$ci without $t: .ci/tools passed: $(cat "$T/out")"
    fi
    grep -q "missing tools: .*$t" "$T/out" || fail "CI=$ci without $t: not named: $(cat "$T/out")"
  done
  env -i PATH="$T/bin" "$BASH_BIN" "$SRC/.ci/tools" >"$T/out" 2>&1 || fail "outside CI without $t: failed: $(cat "$T/out")"
  grep -q "$t" "$T/out" || fail "outside CI without $t: not reported: $(cat "$T/out")"
  env -i PATH="$T/bin" CI=false "$BASH_BIN" "$SRC/.ci/tools" >/dev/null 2>&1 || fail "CI=false without $t: failed"
done

# .ci/run runs the check before building, and has no passing way around clang in CI
grep -q '^bash \.ci/tools$' "$SRC/.ci/run" || fail ".ci/run does not run .ci/tools"
awk '/^bash \.ci\/tools$/{t=NR} /^cmake /{if(!c)c=NR} END{exit !(t && c && t < c)}' "$SRC/.ci/run" ||
  fail ".ci/tools does not run before the first build"
grep -q 'clang not found in CI"; exit 1' "$SRC/.ci/run" || fail ".ci/run would skip the fuzzers in CI"
# .ci/deps installs what .ci/tools asks for (Debian 12 names)
for p in prometheus systemd clang libclang-rt-14-dev jq curl openssl python3; do
  grep -Eq "(\(|[[:space:]])$p([[:space:]]|\)|$)" "$SRC/.ci/deps" || fail ".ci/deps does not install $p"
done
# the shell tests that need a tool fail in CI rather than skip
# (in the test itself, or through ops_lib.sh's need_prometheus_tool, which must then do so)
grep -A3 '^need_prometheus_tool()' "$SRC/tests/helpers/ops_lib.sh" | grep -q 'CI:-}" = true' ||
  fail "ops_lib.sh's need_prometheus_tool does not fail on a missing tool in CI"
for f in ops_prometheus ops_outbox_backlog ops_health ops_systemd; do
  grep -q 'CI:-}" = true\|^need_prometheus_tool ' "$SRC/tests/sh/$f.sh" || fail "$f.sh does not fail on a missing tool in CI"
done
echo ok

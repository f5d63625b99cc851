# run --virtual-time and recwatch test from the command line: the README demo on a virtual
# clock (same transitions and alert as in real time, far faster), option errors, and the
# runner's contract: TAP, --junit, exit 0/1/2, file:line of a failed assertion, max_busy.
set -eu
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# 1. the README demo: 15 virtual seconds (it ends by itself), same story as in real time
start=$(date +%s.%N)
"$RECWATCH" run --sim --virtual-time --until 60 "$SRC/examples/qingcloud_failed_alert.lua" 2>"$T/demo.log"
took=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
echo "README demo in virtual time: $took s of wall time"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 10 else 1)" "$took"  # 15 s in real time
grep -o 'task 39 on demo-channel: .*' "$T/demo.log" > "$T/transitions"
cat > "$T/want" <<'W'
task 39 on demo-channel: new -> Start
task 39 on demo-channel: Start -> Recording
task 39 on demo-channel: Recording -> Recorded
task 39 on demo-channel: Recorded -> MergingSingleMedia
task 39 on demo-channel: MergingSingleMedia -> SingleMediaMerged
task 39 on demo-channel: SingleMediaMerged -> PushingToQingstor
task 39 on demo-channel: PushingToQingstor -> PushToQingstorFailed
W
diff "$T/want" "$T/transitions"
test "$(grep -c 'sim: webhook received' "$T/demo.log")" = 1
test "$(grep -c 'ALERT delivered' "$T/demo.log")" = 1
grep -q 'virtual time limit' "$T/demo.log" && { echo "the demo should end by itself at 15 s"; exit 1; }
# the log's timestamps are virtual: the failure is logged 10 s after the first transition
python3 - "$T/demo.log" <<'PY'
import sys, datetime
def ts(l): return datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f")
lines = open(sys.argv[1]).read().splitlines()
first = next(l for l in lines if "new -> Start" in l and "task 39" in l)
fail = next(l for l in lines if "-> PushToQingstorFailed" in l)
d = (ts(fail) - ts(first)).total_seconds()
assert d == 10.0, d
PY

# 2. --until stops a script that never ends, at that virtual time, like SIGTERM
cat > "$T/forever.lua" <<'L'
local n = 0
rec.every(60, function() n = n + 1 end)
rec.spawn(function() while rec.sleep(3600) do rec.log.info("hour %d, %d ticks", math.floor(rec.now() / 3600 + 0.5), n) end end)
L
"$RECWATCH" run --sim --virtual-time --until 86400 "$T/forever.lua" 2>"$T/forever.log"
# at 82800 s the hourly sleep (armed earlier) wakes before the minute tick due then; at
# 86400 s the --until timer, armed first of all, stops the run before either
grep -q 'hour 23, 1379 ticks' "$T/forever.log"
grep -q 'hour 24' "$T/forever.log" && { echo "--until comes first at 86400 s"; exit 1; }
grep -q 'virtual time limit reached (86400 s)' "$T/forever.log"

# 2b. a run that never waits on anything real still sees SIGTERM (the clock gives the loop a
# turn every few thousand jumps) and stops cleanly
"$RECWATCH" run --sim --virtual-time --until 1e9 "$T/forever.lua" 2>"$T/sig.log" &
P=$!
for _ in $(seq 100); do grep -q 'hour 100,' "$T/sig.log" 2>/dev/null && break; sleep 0.1; done
kill -TERM $P
rc=0; wait $P || rc=$?
test $rc = 0
grep -q 'stopping (SIGTERM)' "$T/sig.log"

# 3. the same seed gives the same run: same lines at the same virtual offsets. Aside: the
# clock starts at the real second (so dates and alert-id epochs differ), and Lua's string
# hashing orders JSON keys differently per process (webhook bodies are compared parsed).
norm() {
  python3 -c '
import sys, json, re, datetime
t0 = None
for l in sys.stdin.read().splitlines():
    ts = datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f")
    t0 = t0 or ts
    msg = re.sub(r"127\.0\.0\.1:\d+", "SIM", l[24:])
    m = re.match(r"(.*webhook received: )(\{.*\})$", msg)
    if m:
        body = json.loads(m.group(2))
        for k in ("alert_id", "created"): body.pop(k, None)
        msg = m.group(1) + json.dumps(body, sort_keys=True)
    msg = re.sub(r"@[0-9a-f]{8}\.", "@EPOCH.", msg)
    msg = re.sub(r"sliceStartTime\D+\d+", "", msg)
    print((ts - t0).total_seconds(), msg)
'
}
for i in 1 2; do
  "$RECWATCH" run --sim --virtual-time --until 40 "$SRC/examples/agora_ended_summary.lua" 2>&1 | norm >"$T/run$i"
done
diff "$T/run1" "$T/run2"
test "$(wc -l <"$T/run1")" -gt 10

# 4. option errors
rc=0; "$RECWATCH" run --virtual-time --until 5 "$T/forever.lua" 2>/dev/null || rc=$?; test $rc = 2
rc=0; "$RECWATCH" run --sim --virtual-time "$T/forever.lua" 2>/dev/null || rc=$?; test $rc = 2
rc=0; "$RECWATCH" run --sim --until 5 "$T/forever.lua" 2>/dev/null || rc=$?; test $rc = 2
rc=0; "$RECWATCH" run --sim --virtual-time --until soon "$T/forever.lua" 2>/dev/null || rc=$?; test $rc = 2

# 5. recwatch test: passing, failing, load errors
mkdir "$T/t"
cat > "$T/t/busy.lua" <<'L'
while true do end
L
cat > "$T/t/pass_test.lua" <<'L'
local T = require "rec.test"
T.case("adds", function(t) t:eq(1 + 1, 2) end)
T.case("advances", function(t) t:advance(7200); t:eq(t:now(), 7200) end)
L
cat > "$T/t/fail_test.lua" <<'L'
local T = require "rec.test"
T.case("passes", function(t) t:ok(true) end)
T.case("fails on line 3", function(t)
  t:eq("a", "b", "letters")
end)
T.case("a busy script fails its case", function(t)
  t:start("busy.lua", {})
  t:advance(1)
end)
T.case("a busy case fails too", function(t) while true do end end)
L
"$RECWATCH" test "$T/t/pass_test.lua" >"$T/pass.tap"
grep -qx '1..2' "$T/pass.tap"
grep -qx 'ok 1 - adds' "$T/pass.tap"
grep -qx 'ok 2 - advances' "$T/pass.tap"
rc=0; "$RECWATCH" test --junit "$T/j.xml" "$T/t" >"$T/all.tap" 2>"$T/all.err" || rc=$?
cat "$T/all.tap"
test $rc = 1
grep -qx '1..6' "$T/all.tap"
grep -qx 'not ok 2 - fails on line 3' "$T/all.tap"
grep -q '^#   .*fail_test.lua:4: letters: expected "b", got "a"' "$T/all.tap"
grep -qx 'not ok 3 - a busy script fails its case' "$T/all.tap"
grep -qx 'not ok 4 - a busy case fails too' "$T/all.tap"
grep -qx 'ok 5 - adds' "$T/all.tap"
python3 - "$T/j.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites" and root.get("tests") == "6" and root.get("failures") == "3", root.attrib
cases = root.findall("./testsuite/testcase")
assert len(cases) == 6
assert [c.find("failure") is not None for c in cases] == [False, True, True, True, False, False]
PY
echo 'syntax error here' >"$T/t/bad_test.lua"
rc=0; "$RECWATCH" test "$T/t/bad_test.lua" >/dev/null 2>"$T/bad.err" || rc=$?; test $rc = 2
grep -q 'bad_test.lua:1:' "$T/bad.err"
rc=0; "$RECWATCH" test "$T/nope_test.lua" >/dev/null 2>&1 || rc=$?; test $rc = 2
rc=0; "$RECWATCH" test --bogus >/dev/null 2>&1 || rc=$?; test $rc = 2
echo ok

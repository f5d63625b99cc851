# Tracebacks print as lines (issue 20, item 17): in the text log, a task's traceback follows
# its record as lines of its own, indented by two spaces, not as one line with literal \n\t
# (a missing configuration file shows it). Every line is still either a record (it starts
# with its timestamp) or indented, so a message cannot forge a record, and a line break in
# the message itself stays escaped. --log-format json keeps one valid object per line.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/tb.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/e" ] && cat "$T/e" >&2; exit 1; }

cat > "$T/cfg.lua" <<'LUA'
local function load_config(path) return dofile(path) end
local c = load_config(arg[1])
LUA
"$RECWATCH" run "$T/cfg.lua" "$T/missing.lua" 2>"$T/e"; st=$?
[ $st = 1 ] || fail "exit status $st"
grep -q 'task failed: cannot open .*missing.lua: No such file or directory$' "$T/e" \
  || fail "the record line does not end with the message"
grep -qF '\n' "$T/e" && fail "a literal \\n in the text log"
grep -qF '\t' "$T/e" && fail "a literal \\t in the text log"
grep -qx '  stack traceback:' "$T/e" || fail "no 'stack traceback:' line"
grep -qx "    \[C\]: in function 'dofile'" "$T/e" || fail "no frame line for dofile"
grep -q "^    .*cfg.lua:1: in .*load_config" "$T/e" || fail "no frame line for load_config"
grep -q "^    .*cfg.lua:2: in main chunk" "$T/e" || fail "no frame line for the main chunk"
# the order: the record, then its traceback
awk '/task failed/ { r = NR } /stack traceback:/ { s = NR } END { exit !(r && s == r + 1) }' "$T/e" \
  || fail "the traceback does not follow its record"
# every line is a record or an indented continuation
grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T|^  ' "$T/e" && fail "a line that is neither a record nor indented"

# a line break in the message stays escaped: no forged record
cat > "$T/forge.lua" <<'LUA'
error("bad value\n2026-01-01T00:00:00.000Z error forged record\nstack traceback:\nforged frame")
LUA
"$RECWATCH" run "$T/forge.lua" 2>"$T/e"
grep -q '^2026-01-01T00:00:00.000Z' "$T/e" && fail "a message forged a record"
grep -q 'task failed: .*forge.lua:1: bad value\\n2026-01-01T00:00:00.000Z error forged record$' "$T/e" \
  || fail "the message's own line break is not escaped on the record's line"
grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T|^  ' "$T/e" && fail "a line that is neither a record nor indented"

# JSON: one object per line, the traceback inside "msg"
"$RECWATCH" --log-format json run "$T/cfg.lua" "$T/missing.lua" 2>"$T/e"
[ "$(wc -l <"$T/e")" = "$(grep -c '^{.*}$' "$T/e")" ] || fail "a JSON record over several lines"
grep -q '"msg":"task failed: cannot open .*\\nstack traceback:\\n\\t\[C\]: in function '"'"'dofile'"'"'' "$T/e" \
  || fail "the JSON msg lacks its traceback"
if command -v python3 >/dev/null; then
  python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$T/e" || fail "invalid JSON"
fi
echo "log_traceback_lines ok"

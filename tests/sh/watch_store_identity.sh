# One writer per state file, whatever path names it: while one recwatch holds a state file, a
# second one is refused (exit 2, "in use by another recwatch process", its script never
# runs) through the same path, a symbolic link, a hard link in another directory, and a
# "../" path; also after the holder reloads (SIGHUP). The writer lock does not get in
# SQLite's way: another program reads and writes the file meanwhile. A file replaced by a
# rename is a new file with a lock of its own (docs/workflows.md says so), and the holder says
# (kind=state_file) that its writes no longer reach the file at that path. Once the holder is
# gone, the file is free again.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d)
HPID=
trap 'kill $HPID 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/log" "$T/second.log" 2>/dev/null; exit 1; }
mkdir -p "$T/a" "$T/b"
cat >"$T/hold.lua" <<'LUA'
local db = require("rec.store").open()
rec.log.info("HOLDING")
for i = 1, 600 do db:set("tick", tostring(i)) rec.sleep(0.1) end
LUA
printf 'require("rec.store").open():set("second", "ran")\nrec.log.info("SECOND RAN")\n' >"$T/second.lua"

"$RECWATCH" run --state "$T/a/state.db" "$T/hold.lua" 2>"$T/log" &
HPID=$!
holding() { [ "$(grep -c HOLDING "$T/log")" -ge "$1" ]; }
for _ in $(seq 100); do holding 1 && break; sleep 0.1; done
holding 1 || fail "the first recwatch never opened its state file"

ln -s ../a/state.db "$T/b/link.db"
ln "$T/a/state.db" "$T/b/hard.db"
refused() {   # refused LABEL PATH
  local rc
  timeout 20 "$RECWATCH" run --state "$2" "$T/second.lua" 2>"$T/second.log"; rc=$?
  [ "$rc" = 2 ] || fail "$1: the second recwatch exited $rc, expected 2"
  grep -q "kind=state_file .* is in use by another recwatch process" "$T/second.log" || fail "$1: no clear refusal"
  grep -q "SECOND RAN" "$T/second.log" && fail "$1: the second script ran"
  echo "ok: $1 refused"
}
refused "the same path" "$T/a/state.db"
refused "a symbolic link" "$T/b/link.db"
refused "a hard link in another directory" "$T/b/hard.db"
refused "a ../ path" "$T/b/../a/state.db"
(cd "$T/b" && refused "a relative path" ../a/state.db)

kill -HUP "$HPID"
for _ in $(seq 100); do holding 2 && break; sleep 0.1; done
holding 2 || fail "the holder did not reload"
refused "a hard link after the holder reloaded" "$T/b/hard.db"

# SQLite's own locking is untouched: another program reads and writes while recwatch holds it
python3 - "$T/b/hard.db" <<'PY' || fail "another SQLite client was blocked by the writer lock"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
c.execute("BEGIN IMMEDIATE"); c.execute("INSERT INTO kv VALUES ('other', 'x', 0)"); c.execute("COMMIT")
assert c.execute("SELECT value FROM kv WHERE key = 'other'").fetchone()[0] == "x"
assert c.execute("SELECT count(*) FROM kv WHERE key = 'second'").fetchone()[0] == 0
PY

# replaced by a rename: a new inode, so a new file as far as the lock goes; the holder, whose
# writes now go to a file without that name, says so (once)
python3 - "$T/a/state.db" "$T/a/copy.db" <<'PY'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2]); src.backup(dst)
PY
mv "$T/a/copy.db" "$T/a/state.db"
timeout 20 "$RECWATCH" run --state "$T/a/state.db" "$T/second.lua" 2>"$T/second.log" \
  || fail "the renamed-in file (a new inode) was refused"
grep -q "SECOND RAN" "$T/second.log" || fail "the second script did not run on the new file"
echo "ok: a file replaced by a rename is a new file"
said() { grep -q "kind=state_file the state file $T/a/state.db is no longer the file this process opened" "$T/log"; }
for _ in $(seq 100); do said && break; sleep 0.1; done
said || fail "the holder did not say that its state file was replaced"
[ "$(grep -c 'is no longer the file' "$T/log")" = 1 ] || fail "the replacement was logged more than once"
grep -q "is no longer the file" "$T/second.log" && fail "the process on the new file complained"
refused "the old inode's hard link, still held" "$T/b/hard.db"

kill "$HPID"; wait "$HPID"; HPID=
timeout 20 "$RECWATCH" run --state "$T/b/hard.db" "$T/second.lua" 2>"$T/second.log" \
  || fail "the file stayed locked after its holder ended"
echo "watch_store_identity ok"

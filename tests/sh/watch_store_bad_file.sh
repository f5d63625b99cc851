# Every bad state file is a configuration error: exit status 2, one kind=state_file line that
# says what is wrong and what to do, a typed error for the script (kind invalid_argument), no
# "task failed" traceback, nothing written to a file that is not ours, and no hang (a FIFO).
# A state file of the old layout (no application_id) still opens, and is stamped as ours.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/log" 2>/dev/null; exit 1; }

cat >"$T/open.lua" <<'LUA'
local ok, err = pcall(require("rec.store").open)
if not ok then
  rec.log.info("TYPED kind=%s retryable=%s", tostring(type(err) == "table" and err.kind),
               tostring(type(err) == "table" and err.retryable))
  rec.sleep(1)   -- the run stops with status 2 anyway
  rec.log.info("STILL RUNNING")
end
LUA

# sqlite PATH SQL...: makes an SQLite file with Python's sqlite3 (not recwatch's)
sqlite() { python3 - "$@" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for s in sys.argv[2:]: c.execute(s)
c.commit(); c.close()
PY
}

head -c 4096 /dev/urandom >"$T/random.db"
printf 'SQLite format 3\0 but then nothing sensible' >"$T/header.db"
sqlite "$T/users.db" "create table users(name text, pw text)" "insert into users values('a','b')"
sqlite "$T/kv.db" "create table kv(k text, v text)"
sqlite "$T/outbox.db" "create table kv(key text primary key, value text not null, updated_at real)" \
  "create table outbox(id text, dest text)"
sqlite "$T/appid.db" "pragma application_id = 1234" "create table kv(key text primary key, value text not null, updated_at real)"
sqlite "$T/newer.db" "pragma user_version = 99"
mkdir "$T/dir"
mkfifo "$T/fifo"

check() {   # check NAME PATH WORDS: exit 2, one kind=state_file line containing WORDS
  local name=$1 path=$2 words=$3 rc before after
  before=$( [ -f "$path" ] && sha256sum <"$path" )
  timeout 20 "$RECWATCH" run --state "$path" "$T/open.lua" >"$T/out" 2>"$T/log"; rc=$?
  [ "$rc" = 2 ] || fail "$name: exit $rc, expected 2"
  [ "$(grep -c 'kind=state_file' "$T/log")" = 1 ] || fail "$name: expected one kind=state_file line"
  grep 'kind=state_file' "$T/log" | grep -qF -- "$words" || fail "$name: the line does not say '$words'"
  grep -q 'exit status 2' "$T/log" || fail "$name: the line does not give the exit status"
  grep -q 'TYPED kind=invalid_argument retryable=false' "$T/log" || fail "$name: the script did not get a typed error"
  grep -q 'STILL RUNNING' "$T/log" && fail "$name: the script went on after a bad state file"
  grep -q 'task failed\|traceback' "$T/log" && fail "$name: a traceback instead of a clear line"
  after=$( [ -f "$path" ] && sha256sum <"$path" )
  [ "$before" = "$after" ] || fail "$name: recwatch changed a file that is not its own"
  echo "ok $name: $(grep -o 'kind=state_file.*' "$T/log" | cut -c1-150)"
}
check random "$T/random.db" "not an SQLite database"
check header "$T/header.db" "not an SQLite database"
check users "$T/users.db" "another schema (tables: users)"
check kv "$T/kv.db" "table kv without the column key"
check outbox "$T/outbox.db" "table outbox without the column payload"
check appid "$T/appid.db" "another program's SQLite database (application_id 0x4d2)"
check newer "$T/newer.db" "newer recwatch (state schema 99"
check directory "$T/dir" "is a directory"
check fifo "$T/fifo" "is a FIFO"
check device /dev/null "is a device"
check missing-dir "$T/nowhere/state.db" "cannot open the state file"

# a damaged file: a valid header, then a page of garbage where the schema should be
sqlite "$T/damaged.db" "create table kv(key text primary key, value text not null, updated_at real)" \
  "insert into kv values('a', 'b', 1)"
python3 - "$T/damaged.db" <<'PY'
import sys
f = open(sys.argv[1], "r+b"); f.seek(100); f.write(b"\xff" * 3000); f.close()
PY
check damaged "$T/damaged.db" "state file"

# the old layout: the same tables, no application_id: it opens, keeps its rows, and is stamped
sqlite "$T/old.db" "create table kv(key text primary key, value text not null, updated_at real)" \
  "create table outbox(id text not null, dest text not null, payload text not null, created_at real not null, attempts integer not null default 0, next_at real not null, last_error text, delivered_at real, primary key (id, dest))" \
  "insert into kv values('k', 'v', 1)"
printf 'assert(require("rec.store").open():get("k") == "v")\n' >"$T/old.lua"
"$RECWATCH" run --state "$T/old.db" "$T/old.lua" 2>"$T/log" || fail "an old-layout state file did not open"
python3 - "$T/old.db" <<'PY' || fail "the state file was not stamped"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
assert c.execute("pragma application_id").fetchone()[0] == 0x52435754
assert c.execute("pragma user_version").fetchone()[0] == 1
PY
# a fresh file is made, stamped, and opens again
"$RECWATCH" run --state "$T/new.db" "$T/old.lua" 2>"$T/log" && fail "a fresh file has no key k"
printf 'local db = require("rec.store").open() db:set("k", "v")\n' >"$T/set.lua"
"$RECWATCH" run --state "$T/new.db" "$T/set.lua" 2>"$T/log" || fail "a fresh state file"
"$RECWATCH" run --state "$T/new.db" "$T/old.lua" 2>"$T/log" || fail "reopening a fresh state file"
echo "watch_store_bad_file ok"

-- rec.store: key/value, outbox life cycle, transactions roll back on error, reopening the
-- same path gives the same connection, and a file survives a close/reopen.
local store = require "rec.store"
local db = store.open()                       -- no --state: in memory
assert(db == store.open(), "same path, same connection")
assert(db:get("a") == nil)
assert(db:set("a", "1"))
assert(db:get("a") == "1")
db:set("a", nil)
assert(db:get("a") == nil)
db:set("p/x", "1") ; db:set("p/y", "2") ; db:set("q/z", "3")
local k = db:keys("p/")
assert(k["p/x"] == "1" and k["p/y"] == "2" and k["q/z"] == nil)

-- outbox
assert(db:enqueue("al-1", "hook", '{"text":"one"}') == true)
assert(db:enqueue("al-1", "hook", '{"text":"dup"}') == false, "idempotent by (id, dest)")
assert(db:enqueue("al-1", "other", '{"text":"one"}') == true)
local p = db:pending(10)
assert(#p == 2, "two pending rows, got " .. #p)
assert(p[1].id == "al-1" and p[1].payload == '{"text":"one"}' and p[1].attempts == 0)
assert(db:attempt_failed("al-1", "hook", rec.time() + 3600, "HTTP 500"))
p = db:pending(10)
assert(#p == 1 and p[1].dest == "other", "the failed row waits for its next_at")
p = db:pending(10, rec.time() + 7200)
assert(#p == 2 and (p[1].last_error == "HTTP 500" or p[2].last_error == "HTTP 500"))
assert(db:delivered("al-1", "other") == true)
assert(db:delivered("al-1", "other") == false, "already delivered")
local np, nd = db:counts()
assert(np == 1 and nd == 1, ("counts %d %d"):format(np, nd))

-- transactions: all or nothing
local ok, err = db:transaction(function(d)
  d:set("t/1", "x")
  d:enqueue("al-2", "hook", "{}")
  error("boom")
end)
assert(ok == false and tostring(err):find("boom"))
assert(db:get("t/1") == nil, "rolled back")
assert(select(1, db:counts()) == 1, "enqueue rolled back")
local ok2, a, b = db:transaction(function(d, x) d:set("t/1", x) return "r1", "r2" end, "y")
assert(ok2 == true and a == "r1" and b == "r2" and db:get("t/1") == "y")
-- a transaction cannot wait: the yield is refused and everything is rolled back
local ok3 = db:transaction(function(d) d:set("t/2", "z") rec.sleep(0.01) end)
assert(ok3 == false and db:get("t/2") == nil)

-- a file database survives close and reopen
local path = os.tmpname()
local f = store.open(path)
f:set("k", "v")
f:enqueue("al-3", "hook", "{}")
f:close()
local g = store.open(path)
assert(g ~= f)
assert(g:get("k") == "v" and select(1, g:counts()) == 1)
assert(g:path() == path)
g:close()
os.remove(path) ; os.remove(path .. "-wal") ; os.remove(path .. "-shm")
print("watch_store ok")

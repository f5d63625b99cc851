-- rec.store's units on SQLite (issue 24): one process holds every unit. db:fleet() is false,
-- db:unit(u) is 1 for any unit, db:units() lists every unit with a "<unit>/session/" key
-- (sorted), db:transaction(fn, {unit = u}) commits (the options table is not passed to fn),
-- other extra arguments still reach fn, and claimed outbox rows carry no unit.
local store = require "rec.store"
local db = store.open()
assert(db:fleet() == false)
assert(db:unit("agora:c1") == 1 and db:unit("anything") == 1)
assert(#db:units() == 0)
db:set("agora:c2/session/s1", "{}")
db:set("agora:c1/session/s1", "{}")
db:set("agora:c1/session/s2", "{}")
db:set("qingcloud:AK/session/x", "{}")
db:set("agora/app/rid/sid", "{}")          -- no unit: no ':' before the first '/'
db:set("agora:c3/state", "{}")             -- a unit's key, but no session
local u = db:units()
assert(#u == 3 and u[1] == "agora:c1" and u[2] == "agora:c2" and u[3] == "qingcloud:AK",
       table.concat(u, ","))
local seen
local ok, a = db:transaction(function(d, x)
  seen = x
  d:set("agora:c1/w", "1")
  d:enqueue("al-u", "hook", "{}")
  return "r"
end, {unit = "agora:c1"})
assert(ok == true and a == "r" and seen == nil, "the options are not fn's")
assert(db:get("agora:c1/w") == "1")
local ok2, b = db:transaction(function(d, x) d:set("t", x) return x end, "y")
assert(ok2 and b == "y" and db:get("t") == "y", "extra arguments still reach fn")
-- a table without a unit field is fn's argument, as before
local ok3, c = db:transaction(function(d, t) return t.k end, {k = "v"})
assert(ok3 and c == "v")
local rows = db:pending(10)
assert(#rows == 1 and rows[1].id == "al-u" and rows[1].unit == nil)
db:set("agora:c2/session/s1", nil)
u = db:units()
assert(#u == 2 and u[1] == "agora:c1" and u[2] == "qingcloud:AK")
print("store_units ok")

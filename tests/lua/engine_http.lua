-- rec.http: 1,000 concurrent GETs, JSON replies, headers, and typed transport errors
-- (timeout, refused port, reply over the cap) that never disturb the other tasks.
local base = assert(rec.sim and rec.sim.base_url, "run with --sim")
local function agora(sid) return base .. "/v1/apps/app/cloud_recording/resourceid/r/sid/" .. sid .. "/mode/mix/query" end

-- 1,000 concurrent requests, all answered (401: no credentials sent, which is fine here)
local ts = {}
for i = 1, 1000 do ts[i] = rec.spawn(function() return rec.http{ url = agora("ok") } end) end
local answered = 0
for i = 1, 1000 do
  local ok, r, err = ts[i]:wait()
  assert(ok and r, tostring(err))
  if r.status == 401 and r.json and r.json.message == "Unauthorized" then answered = answered + 1 end
end
assert(answered == 1000, "answered " .. answered)

-- a 404 is a reply, not an error; headers are lowercased, json decoded
local r = assert(rec.http{ url = base .. "/nope" })
assert(r.status == 404 and r.json.message == "no Route matched with those values", r.body)
assert(r.headers["content-type"]:find("json"))

-- a slow server gives kind="timeout" after the timeout, while other tasks go on
local ticks = 0
local ticker = rec.every(0.05, function() ticks = ticks + 1 end)
local t0 = rec.now()
local nr, err = rec.http{ url = agora("slow"), timeout = 0.5 }
ticker:stop()
assert(nr == nil and err.kind == "timeout" and err.retryable, tostring(err))
assert(rec.now() - t0 < 2.9, "gave up at the timeout, not at the reply")
assert(ticks >= 3, "other tasks kept running during the wait: " .. ticks)

-- a closed port gives kind="network"
local cr, cerr = rec.http{ url = "http://127.0.0.1:1/", timeout = 2 }
assert(cr == nil and cerr.kind == "network", tostring(cerr))

-- a reply over the cap (8 MiB by default) gives kind="protocol"
local br, berr = rec.http{ url = agora("big") }
assert(br == nil and berr.kind == "protocol" and berr.message:find("larger than"), tostring(berr))
-- ...and a per-call cap can be raised
local br2 = assert(rec.http{ url = agora("big"), max_reply = 16 * 1024 * 1024 })
assert(#br2.body == 9 * 1024 * 1024)

-- a body can be sent as JSON
local pr = assert(rec.http{ method = "POST", url = base .. "/nope", json = { a = 1 } })
assert(pr.status == 404)

-- bad arguments are typed errors, not crashes
local x, xerr = rec.http{}
assert(x == nil and xerr.kind == "invalid_argument")
local y, yerr = rec.http{ url = "ftp://127.0.0.1/" }
assert(y == nil and yerr.kind == "invalid_argument", tostring(yerr))
print("engine_http ok")

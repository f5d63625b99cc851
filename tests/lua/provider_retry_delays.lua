-- Retry delays as documented (docs/api.md), on the virtual clock (tests/CMakeLists.txt), so
-- the waits are exact: jitter only adds (up to 20%), never takes away.
--  - 206/65 ("request not completed"): the same request after 3 s, then 6 s, then 6 s;
--  - a transport error (failover): 1, 3, 6 s;
--  - a 5xx on a query: the failover table too;
--  - per-call retries and retry_delays override the provider's for that call only.
-- Scenario: tests/scenarios/provider_retry_delays.lua.
rec.configure{ agora = { rate = 0 } }

local function timed(sid, extra)
  local q = { appid = "app", resourceid = "r", sid = sid }
  for k, v in pairs(extra or {}) do q[k] = v end
  local t0 = rec.now()
  local r, err = rec.query_agora(q)
  return rec.now() - t0, r, err
end

local function between(took, lo, what)
  assert(took >= lo and took <= lo * 1.2 + 0.001,
         ("%s: waited %.3f s, documented %.3f s (+ up to 20%%)"):format(what, took, lo))
end

-- one 206 then 200: one wait of 3 s
local took, r, err = timed("once206")
assert(r and r.status == 5, tostring(err))
between(took, 3, "206/65 once")

-- 206 every time, 3 retries: 3 + 6 + 6 s, then the error
took, r, err = timed("again")
assert(r == nil and err.kind == "server" and err.status == 206 and err.attempts == 4, tostring(err))
between(took, 15, "206/65 three times")

-- transport errors, 3 retries: 1 + 3 + 6 s
took, r, err = timed("drop")
assert(r == nil and err.attempts == 4, tostring(err))
between(took, 10, "dropped connection three times")

-- a 500 page, 2 retries: 1 + 3 s
took, r, err = timed("s", { retries = 2 })
assert(r == nil and err.kind == "server" and err.attempts == 3, tostring(err))
between(took, 4, "500 twice")

-- per-call delays, for every class
took, r, err = timed("s", { retries = 2, retry_delays = { 0.1, 0.2 } })
assert(r == nil and err.kind == "server" and err.attempts == 3, tostring(err))
between(took, 0.3, "per-call delays, 500")
took, r, err = timed("again", { retries = 1, retry_delays = { 0.5 } })
assert(r == nil and err.status == 206 and err.attempts == 2, tostring(err))
between(took, 0.5, "per-call delays, 206")

local _, e1 = rec.query_agora{ appid = "app", resourceid = "r", sid = "s", retry_delays = { "x" } }
assert(e1.kind == "invalid_argument" and e1.message:find("retry_delays%[1%]"), e1.message)
local _, e2 = rec.query_agora{ appid = "app", resourceid = "r", sid = "s", retry_delays = {} }
assert(e2.kind == "invalid_argument" and e2.message:find("1 to 8 delays"), e2.message)
print("provider_retry_delays ok")

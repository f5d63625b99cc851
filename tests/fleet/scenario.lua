-- The fleet stories' shared simulator (tests/sh/fleet_*.sh, bench/fleet_db.sh), shaped by the
-- environment (the scenario sandbox allows os.getenv):
--   FLEET_ACCOUNTS  Agora customers c01..cNN, secret "secret-cNN" (default 30)
--   FLEET_SESSIONS  recordings rid-<i>/sid-<i>, i = 1..N, of appid "fleet-app" (default 300);
--                   recording i belongs to customer c<((i-1) % ACCOUNTS) + 1> (the watch set in
--                   the store says so; the simulator answers any customer)
--   FLEET_RATE      each customer's limit, queries per second (default 10; 429 beyond it)
--   FLEET_FAIL      the first N recordings fail (default 0): status 4 until FLEET_FAIL_AT + 2,
--                   5 from then, 20 "exited abnormally" from +5 s, gone (404) FLEET_LINGER
--                   (default 8) seconds later: longer than a failover (T + r + 1 s, more on a
--                   loaded machine), so that a new owner still sees the 20 it must alert;
--                   every other recording records (5) for ever
--   FLEET_FAIL_AT   sim second of the first failing recording's start (default 5); recording i
--                   starts FLEET_FAIL_STEP (default 0.2) seconds after recording i-1
local function num(name, default)
  local v = tonumber(os.getenv(name) or "")
  return v or default
end
local accounts, sessions = num("FLEET_ACCOUNTS", 30), num("FLEET_SESSIONS", 300)
local rate, fail = num("FLEET_RATE", 10), num("FLEET_FAIL", 0)
local fail_at, step = num("FLEET_FAIL_AT", 5), num("FLEET_FAIL_STEP", 0.2)
local linger = num("FLEET_LINGER", 8)

local customers = {}
for a = 1, accounts do
  customers[a] = { customer_id = ("c%02d"):format(a), customer_secret = ("secret-c%02d"):format(a),
                   rate_limit = rate }
end

local recs = {}
for i = 1, sessions do
  local r = { appid = "fleet-app", resourceid = "rid-" .. i, sid = "sid-" .. i, mode = "mix",
              channel = "ch-" .. i }
  if i <= fail then
    local t0 = fail_at + (i - 1) * step
    r.timeline = { {0, 4}, {t0 + 2, 5}, {t0 + 5, 20} }
    r.linger = linger
  else
    r.timeline = { {0, 5} }
  end
  recs[i] = r
end

return {
  agora = {
    -- the first customer is the default credential; every customer is an account
    customer_id = customers[1].customer_id, customer_secret = customers[1].customer_secret,
    rate_limit = rate, linger = 1,
    customers = { table.unpack(customers, 2) },
  },
  agora_recordings = recs,
}

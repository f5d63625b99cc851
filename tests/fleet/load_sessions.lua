-- load_sessions.lua: the fleet stories' watch set, written in one transaction through rec.store:
--   recwatch run --state <url> load_sessions.lua --sessions 300 --accounts 30
-- Session i (recording rid-i/sid-i of fleet-app, mode mix, tests/fleet/scenario.lua) goes under
-- unit agora:c<((i - 1) % accounts) + 1> as "<unit>/session/sid-i" (docs/workflows.md, the
-- watch set), the format `recwatch sessions add` writes one session at a time.
local opt = require("rec.args").parse(arg, { sessions = 300, accounts = 30 })
local db = require("rec.store").open()
local n, a = tonumber(opt.sessions), tonumber(opt.accounts)
local ok, err = db:transaction(function()
  for i = 1, n do
    local unit = ("agora:c%02d"):format((i - 1) % a + 1)
    db:set(("%s/session/sid-%d"):format(unit, i), rec.json.encode{
      appid = "fleet-app", resourceid = "rid-" .. i, sid = "sid-" .. i, mode = "mix" })
  end
end)
assert(ok, tostring(err))
print(("loaded %d sessions over %d accounts"):format(n, a))

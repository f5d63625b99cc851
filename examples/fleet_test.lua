-- Proves what fleet.lua's header claims, on a virtual clock (one process on a SQLite file:
-- it holds every account): recwatch test examples/fleet_test.lua
local T = require "rec.test"

local UNIT = "agora:sim-agora-customer"

-- `recwatch sessions ARGS...` on the state file, as a process of its own that ends
local function sessions(t, db, ...)
  local cli = t:tmpfile("sessions_cli.lua")
  local f = assert(io.open(cli, "w"))
  f:write('require("rec.cli.sessions")(table.unpack(arg))\n')
  f:close()
  local args = { ... }
  table.insert(args, 2, "--state")
  table.insert(args, 3, db)
  local p = t:start(cli, args)
  t:advance(0)
  t:eq(p:exited(), 0, "recwatch sessions " .. table.concat({ ... }, " "))
  p:kill()   -- its engine lets go of the file
end
local function add(t, db, rid, sid, id, mode)
  sessions(t, db, "add", "agora", "--account", "sim-agora-customer", "--appid", "sim-agora-app",
           "--resourceid", rid, "--sid", sid, "--mode", mode or "mix", id and "--id" or nil, id)
end

T.case("the sessions in the store are watched; a failure alerts once, with its stable id, across a crash", function(t)
  local db = t:tmpfile("fleet.db")
  add(t, db, "sim-resource-abnormal", "sid-abnormal")
  add(t, db, "sim-resource-healthy", "sid-healthy")
  local p = t:start("fleet.lua", {}, { state = db })
  t:advance(30)   -- sid-abnormal exits abnormally at t=12
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one alert")
  t:eq(hooks[1].sid, "sid-abnormal")
  local id = hooks[1].alert_id
  t:ok(id:find(UNIT .. "/agora/sim-agora-app/sim-resource-abnormal/sid-abnormal/change@", 1, true) == 1, id)
  t:eq(#t:logs("kind=fleet_session_watched"), 2, "both sessions watched")
  -- both recordings polled with the account's credential
  local polled = {}
  for _, r in ipairs(t:requests()) do
    if r.provider == "agora" then polled[r.path:match("/sid/([^/]+)/") or "?"] = true end
  end
  t:ok(polled["sid-abnormal"] and polled["sid-healthy"], "both polled")
  p:kill()
  t:start("fleet.lua", {}, { state = db })
  t:advance(60)
  t:eq(#t:webhooks(), 1, "the failure is not alerted again after the restart")
end)

T.case("a session removed from the set is no longer watched", function(t)
  local db = t:tmpfile("fleet.db")
  add(t, db, "sim-resource-healthy", "sid-healthy")
  add(t, db, "sim-resource-web", "sid-web", "web", "web")
  local p = t:start("fleet.lua", {}, { state = db })
  t:advance(10)
  local web0 = 0
  for _, r in ipairs(t:requests()) do
    if r.provider == "agora" and r.path:find("/sid/sid-web/", 1, true) then web0 = web0 + 1 end
  end
  t:ok(web0 > 0, "sid-web was watched before its removal")
  p:stop()
  t:advance(1)
  p:kill()
  sessions(t, db, "remove", "agora", "--account", "sim-agora-customer", "web")
  local before = #t:requests()
  t:start("fleet.lua", {}, { state = db })
  t:advance(20)
  local web, healthy = 0, 0
  for i, r in ipairs(t:requests()) do
    if i > before and r.provider == "agora" then
      if r.path:find("/sid/sid-web/", 1, true) then web = web + 1 end
      if r.path:find("/sid/sid-healthy/", 1, true) then healthy = healthy + 1 end
    end
  end
  t:eq(web, 0, "the removed session is not polled")
  t:ok(healthy > 0, "the other one is")
  t:eq(#t:webhooks(), 0)
end)

T.case("a session that cannot be watched is said once (log and alert), and the rest go on", function(t)
  local db = t:tmpfile("fleet.db")
  add(t, db, "sim-resource-healthy", "sid-healthy")
  -- written by hand (not through recwatch sessions, which refuses it): no sid
  local w = t:tmpfile("put.lua")
  local f = assert(io.open(w, "w"))
  f:write('require("rec.store").open():set("' .. UNIT .. '/session/broken", \'{"appid":"sim-agora-app"}\')\n')
  f:close()
  local pw = t:start(w, {}, { state = db })
  t:advance(0)
  pw:kill()
  t:start("fleet.lua", {}, { state = db })
  t:advance(30)
  t:eq(#t:logs("kind=fleet_session_invalid"), 1, "logged once")
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "alerted once")
  t:ok(hooks[1].text:find("broken", 1, true), hooks[1].text)
  t:eq(#t:logs("kind=fleet_session_watched"), 1, "the good one is watched")
end)

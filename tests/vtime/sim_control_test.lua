-- The simulator's control calls (docs/simulator.md "Control calls"), one case per rule:
-- each runs tests/vtime/sim_control.lua, which drives the calls with plain HTTP on the
-- virtual clock and asserts every answer; a failed assertion fails the case.
local T = require "rec.test"

local function scenario(extra)
  local s = {
    agora = { customer_id = "ctl-customer", customer_secret = "ctl-secret", rate_limit = 0 },
    qingcloud = { access_key_id = "CTLQCKEY", secret_access_key = "ctl-qc-secret" },
    control = { channels = {
      { channel = "crash", timeline = { {0, 1}, {1, 4}, {2, 5}, {10, 20} } },
      { channel = "backup", uploading = "backuped" },
      { channel = "empty", publish = {} },
      { channel = "nobody", publish = {} },
      { channel = "idle", publish = { {0, 20} } },
      { channel = "brief", publish = { {0, 700} } },
    } },
  }
  for k, v in pairs(extra or {}) do
    if k == "agora" or k == "control" then for kk, vv in pairs(v) do s[k][kk] = vv end else s[k] = v end
  end
  return s
end

local function play(t, story, extra, seconds)
  t:scenario(scenario(extra))
  local p = t:start("sim_control.lua", { story })
  t:advance(seconds or 2000)
  t:eq(p:exited(), 0, story .. " ran to its end")
  t:eq(#t:logs("STORY OK " .. story), 1, story .. " passed")
  -- no secret the calls carried reaches a log line or the request log
  local all = table.concat(t:logs(), "\n")
  for _, r in ipairs(t:requests()) do all = all .. "\n" .. r.path .. "?" .. r.query end
  for _, secret in ipairs{ "SIGNKEYSECRET", "AKSECRETLIKE", "SKSECRET", "ctl-qc-secret", "ctl-secret" } do
    t:ok(not all:find(secret, 1, true), secret .. " appears in a log")
  end
end

T.case("a resource id lives 5 minutes and serves one session", function(t) play(t, "resource") end)
T.case("a duplicate start gives 7, a cname+uid conflict 53", function(t) play(t, "conflict") end)
T.case("a started session answers query along its timeline; update, updateLayout", function(t)
  play(t, "query")
end)
T.case("stop: uploaded, backuped, 49, 404, 435", function(t) play(t, "stop") end)
T.case("maxIdleTime ends a session when nobody publishes", function(t) play(t, "idle") end)
T.case("the concurrency limit answers 406", function(t)
  play(t, "concurrency", { control = { concurrency = 2 } })
end)
T.case("bad requests get typed 400s and nothing starts", function(t) play(t, "validation") end)
T.case("control calls share the customer's rate limit with queries", function(t)
  play(t, "ratelimit", { agora = { rate_limit = 2 } })
end)
T.case("the HA window: a live recording answers 404 for N seconds", function(t)
  play(t, "ha", { faults = { { provider = "agora", kind = "agora_404", match = "/sid/sim-sid-1/",
                               after = 10, seconds = 60 } } })
end)
T.case("faults on the control calls: 500, 206/65, 504/62, 500/502, drop, delay", function(t)
  play(t, "faults", { faults = {
    { provider = "agora", kind = "500_html", match = "/acquire", times = 1 },
    { provider = "agora", kind = "agora_206", match = "/start", times = 1 },
    { provider = "agora", kind = "agora_504", match = "/start", times = 1 },
    { provider = "agora", kind = "agora_502", match = "/start", times = 1 },
    { provider = "agora", kind = "drop", match = "/start", times = 1 },
    { provider = "agora", kind = "delay", ms = 3000, match = "/start", times = 1 },
    { provider = "agora", kind = "agora_504", match = "/update", times = 1 },
    { provider = "agora", kind = "agora_206", match = "/stop", times = 1 },
  } })
end)
T.case("hold: a start takes effect while its answer is held, then sent or dropped", function(t)
  play(t, "hold", { faults = {
    { provider = "agora", kind = "hold", ms = 5000, match = "/start", times = 1 },
    { provider = "agora", kind = "hold_drop", ms = 5000, match = "/start", times = 1 },
  } })
end)
T.case("QingCloud start and stop: signed JSON bodies, a channel's stop, the auto stop", function(t)
  play(t, "qingcloud", { faults = {
    { provider = "qingcloud", kind = "500_html", method = "POST", times = 1 } } })
end)

T.case("the request log names each control call and the billed count", function(t)
  play(t, "conflict")
  local calls, last = {}, nil
  for _, r in ipairs(t:requests()) do
    if r.call then calls[#calls + 1] = r.call .. ":" .. r.status; last = r end
  end
  t:eq(calls[1], "acquire:200")
  t:eq(calls[2], "start:200")
  t:eq(calls[3], "start:201")
  t:eq(last.billed, 3, "three starts billed")
  for _, r in ipairs(t:requests()) do
    if r.method == "GET" and r.path:find("/query$") then t:eq(r.call, nil, "queries carry no call") end
  end
end)

T.case("a scenario's control section is checked", function(t)
  t:fails(function() t:scenario(scenario{ control = { concurency = 1 } }); t:start("sim_control.lua", { "x" }) end,
          "concurency")
end)

T.case("hold faults are refused on the webhook sink", function(t)
  t:fails(function()
    t:scenario(scenario{ faults = { { provider = "webhook", kind = "hold", ms = 10 } } })
    t:start("sim_control.lua", { "x" })
  end, "not the webhook sink")
end)

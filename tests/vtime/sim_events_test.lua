-- The simulator sends Agora NCS events (docs/simulator.md, "NCS events"), on the virtual
-- clock. The receiver here is the simulator's own webhook sink (agora_ncs.url =
-- "/_sim/webhook"): t:webhooks() are the bodies it took, t:requests() every POST with its
-- arrival time and the status it answered, and "webhook" faults make it answer non-200.
-- The signatures themselves are checked by an independent receiver in tests/sh/sim_events.sh.
local T = require "rec.test"

local SECRET = "ncs-secret-for-tests"

local function rec_(sid, timeline, extra)
  local r = { appid = "app", resourceid = "rid-" .. sid, sid = sid, channel = "ch-" .. sid,
              timeline = timeline }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

local function scenario(recs, ncs, faults)
  local n = { url = "/_sim/webhook", secret = SECRET }
  for k, v in pairs(ncs or {}) do n[k] = v end
  return { agora_recordings = recs, agora_ncs = n, faults = faults }
end

local function posts(t)
  local out = {}
  for _, r in ipairs(t:requests()) do
    if r.provider == "webhook" then out[#out + 1] = r end
  end
  return out
end

local function types(hooks, sid)
  local out = {}
  for _, h in ipairs(hooks) do
    if not sid or h.payload.sid == sid then out[#out + 1] = h.eventType end
  end
  return table.concat(out, ",")
end

T.case("a recording's timeline becomes its NCS events, in order, each with its own noticeId", function(t)
  t:scenario(scenario{
    rec_("bad", { {0, 1}, {2, 4}, {3, 5}, {12, 20} }),
    rec_("good", { {0, 4}, {5, 5}, {20, 8} }, { mode = "individual" }),
  })
  t:advance(60)
  -- events due at the same instant travel on parallel connections: arrival order is not
  -- theirs (Agora does not order either), so they are compared in (time, sequence) order
  local hooks = t:webhooks()
  table.sort(hooks, function(a, b)
    if a.payload.sendts ~= b.payload.sendts then return a.payload.sendts < b.payload.sendts end
    if a.payload.sid ~= b.payload.sid then return a.payload.sid < b.payload.sid end
    return a.payload.sequence < b.payload.sequence
  end)
  t:eq(types(hooks, "bad"), "40,30,3,3,3,4,3,1,11", "started, status 1/4/5, file infos, status 20, error, exit")
  t:eq(types(hooks, "good"), "40,30,3,3,4,3,41,31,11", "started, status 4/5, file infos, status 8, leave, uploaded, exit")
  local ids, seq = {}, { bad = 0, good = 0 }
  for _, h in ipairs(hooks) do
    t:ok(not ids[h.noticeId], "noticeId unique: " .. h.noticeId)
    ids[h.noticeId] = true
    t:ok(h.noticeId:match("^%x+%-%x+%-%x+%-%x+%-%x+$") ~= nil, "UUID-shaped noticeId")
    t:eq(h.productId, 3, "productId 3 (cloud recording)")
    local p = h.payload
    t:eq(p.sequence, seq[p.sid], "sequence counts up per session")
    seq[p.sid] = seq[p.sid] + 1
    t:eq(p.cname, "ch-" .. p.sid)
    t:eq(p.uid, "10001", "the recorder's uid, a string")
    t:eq(p.serviceType, 0)
    t:eq(h.notifyMs, p.sendts, "first delivery: notified when it happened (virtual clock)")
    t:eq(type(p.details.msgName), "string")
  end
  -- the abnormal exit: a fatal error and session_exit 1, at 12 s
  local last = hooks[#hooks]
  for _, h in ipairs(hooks) do
    if h.payload.sid == "bad" and h.eventType == 1 then
      t:eq(h.payload.details.errorLevel, 5, "fatal")
    end
    if h.eventType == 11 then
      t:eq(h.payload.details.exitStatus, h.payload.sid == "bad" and 1 or 0, "exitStatus")
    end
    if h.payload.sid == "good" and h.eventType == 31 then
      t:eq(h.payload.details.fileList[1].fileName, "good_ch-good.m3u8", "uploaded lists the files")
    end
  end
  t:eq(last.payload.sid, "good")
  local at = {}
  for _, r in ipairs(posts(t)) do at[#at + 1] = r.t end
  t:eq(#at, 18)
  t:eq(at[1], 0)
  t:eq(at[#at], 20, "the normal exit at its step, 20 s")
  local by = {}
  for _, h in ipairs(hooks) do by[h.payload.sid .. h.eventType] = h end
  t:eq(by.bad11.payload.sendts - by.bad40.payload.sendts, 12000, "the abnormal exit 12 s after the start")
end)

T.case("a non-200 is resent 3 times at most: same noticeId, new notifyMs, after 10, 30, 60 s", function(t)
  t:scenario(scenario({ rec_("s", { {0, 5} }) },
    { timeline = false, events = { { sid = "s", at = 5, type = 12, details = { newUid = 4242 } } } },
    { { provider = "webhook", kind = "500_html", nth = { 1, 2, 3 } } }))
  t:advance(300)
  local p = posts(t)
  t:eq(#p, 4, "the first send and three resends")
  local want = { { 5, 500 }, { 15, 500 }, { 45, 500 }, { 105, 200 } }
  for i, w in ipairs(want) do
    t:eq(p[i].t, w[1], "attempt " .. i .. " at")
    t:eq(p[i].status, w[2], "attempt " .. i .. " answered")
  end
  local hooks = t:webhooks()
  t:eq(#hooks, 1)
  t:eq(hooks[1].eventType, 12)
  t:eq(hooks[1].payload.details.msgName, "session_failover")
  t:eq(hooks[1].payload.details.newUid, 4242)
  t:eq(hooks[1].notifyMs - hooks[1].payload.sendts, 100000, "notifyMs is the resend's time")
end)

T.case("after the third resend fails the event is given up, and said so", function(t)
  t:scenario(scenario({ rec_("s", { {0, 5} }) },
    { timeline = false, retry_delays = { 1, 2, 4 },
      events = { { sid = "s", at = 1, type = 1, details = { module = 0, errorLevel = 5, errorCode = 52 } } } },
    { { provider = "webhook", kind = "500_html" } }))
  t:advance(600)
  local p = posts(t)
  t:eq(#p, 4, "never a fifth attempt")
  t:eq(p[2].t - p[1].t, 1)
  t:eq(p[3].t - p[2].t, 2)
  t:eq(p[4].t - p[3].t, 4)
  t:eq(#t:webhooks(), 0)
  t:eq(#t:logs("not delivered after 4 attempt"), 1, "one warning")
  t:eq(#t:logs(SECRET), 0, "the secret is in no log line")
end)

T.case("a receiver that does not answer at all is resent to as well", function(t)
  t:scenario{ agora_recordings = { rec_("s", { {0, 5} }) },
              agora_ncs = { url = "http://127.0.0.1:1/agora/ncs", secret = SECRET, timeline = false,
                            retry_delays = { 1, 1, 1 },
                            events = { { sid = "s", at = 2, type = 40 } } } }
  t:advance(30)
  t:eq(#t:logs("not delivered after 4 attempt%(s%) %(last: no answer%)"), 1)
end)

T.case("faults: drop, duplicate and delay (out of order)", function(t)
  -- events 1..6 of one session at 0, 10, ..., 50 s
  local ev = {}
  for i = 1, 6 do ev[i] = { sid = "s", at = (i - 1) * 10, type = 3, details = { status = i } } end
  t:scenario(scenario({ rec_("s", { {0, 5} }) }, { timeline = false, events = ev }, {
    { provider = "ncs", kind = "drop", nth = 2 },
    { provider = "ncs", kind = "duplicate", nth = 3 },
    { provider = "ncs", kind = "delay", ms = 25000, nth = 4 },
    { provider = "ncs", kind = "mis_sign", nth = 6 },
  }))
  t:advance(120)
  local hooks = t:webhooks()
  local order = {}
  for _, h in ipairs(hooks) do order[#order + 1] = h.payload.details.status end
  t:eq(table.concat(order, ","), "1,3,3,5,6,4", "2 dropped, 3 twice, 4 after 5 and 6 (delayed 25 s)")
  t:eq(hooks[2].noticeId, hooks[3].noticeId, "a duplicate has the same noticeId")
  t:eq(hooks[2].notifyMs, hooks[3].notifyMs)
  t:eq(hooks[6].payload.sequence, 3, "the delayed one keeps its sequence (older than 5's)")
  t:eq(hooks[4].payload.sequence, 4)
  t:eq(hooks[6].notifyMs - hooks[6].payload.sendts, 25000, "sent 25 s late")
  local p = posts(t)
  t:eq(#p, 6)
  t:eq(p[6].t, 55, "the delayed event arrives at 30 + 25 s")
end)

T.case("uploading_progress (33) every progress_every seconds while recording, and only then", function(t)
  t:scenario(scenario({ rec_("s", { {0, 4}, {100, 5}, {200, 8} }) }, { progress_every = 60 }))
  t:advance(400)
  local got = {}
  for _, h in ipairs(t:webhooks()) do
    if h.eventType == 33 then got[#got + 1] = h.payload.details.progress end
  end
  t:eq(table.concat(got, ","), "100,200,300", "at 60, 120 and 180 s; none after the exit at 200 s")
end)

T.case("no target, no events: the sink sees nothing and nothing is scheduled", function(t)
  t:scenario{ agora_recordings = { rec_("s", { {0, 1}, {3, 20} }) } }
  t:advance(60)
  t:eq(#posts(t), 0)
end)

T.case("bad agora_ncs settings and ncs faults are refused with a message", function(t)
  local bad = {
    { { url = "/_sim/webhook" }, nil, "a url needs a secret" },
    { { url = "ftp://x/", secret = "s" }, nil, "agora_ncs.url" },
    { { urll = "x" }, nil, "unknown field 'urll'" },
    { { resends = 4 }, nil, "resends: expected 0..3" },
    { { retry_delays = { 1, 2 } }, nil, "retry_delays: expected 3" },
    { { events = { { sid = "nope", at = 1, type = 3 } } }, nil, "no recording in agora_recordings" },
    { { events = { { sid = "s", at = 1, type = 3.5 } } }, nil, "integer event type" },
    { { events = { { sid = "s", at = 1, type = 3, details = { 1, x = 2 } } } }, nil, "keys must be strings" },
    { { events = { { sid = "s", at = 1, type = 3, details = { x = string.rep("a", 60001) } } } }, nil, "over 60000 bytes" },
    { nil, { { provider = "ncs", kind = "500_html" } }, "provider ncs takes the kinds" },
    { nil, { { provider = "agora", kind = "duplicate" } }, "for ncs only" },
  }
  for _, b in ipairs(bad) do
    local sc = { agora_recordings = { rec_("s", { {0, 5} }) }, agora_ncs = b[1], faults = b[2] }
    t:fails(function() t:scenario(sc) end, b[3])
  end
end)

-- Events drive the watchers; they never replace polling (issue 22): Agora notifications
-- injected with rec.events.inject (tests/vtime/events/watch_events.lua) on the virtual clock.
local T = require "rec.test"
local SCRIPT = "events/watch_events.lua"

local function rec_of(rid, sid, timeline, gone_at, linger)
  return { appid = "sim-agora-app", resourceid = rid, sid = sid, timeline = timeline, gone_at = gone_at,
           linger = linger }
end

-- virtual times of the requests of one provider whose path holds `match`
local function times(t, provider, match, from, to)
  local out = {}
  for _, r in ipairs(t:requests()) do
    if r.provider == provider and (not match or (r.path or ""):find(match, 1, true))
       and r.t >= (from or 0) and r.t < (to or math.huge) then
      out[#out + 1] = r.t
    end
  end
  return out
end

local function reports(t)
  local out = {}
  for _, line in ipairs(t:logs("report {")) do
    out[#out + 1] = rec.json.decode(line:match("report (%b{})"))
  end
  return out
end

local function events_json(list) return rec.json.encode(list) end

-- virtual times of the "failed" alerts the webhook sink received
local function failed_alerts(t)
  local out, n = {}, 0
  for _, h in ipairs(t:webhooks()) do
    if h.event == "failed" then n = n + 1 end
  end
  local ts = times(t, "webhook")
  for i, h in ipairs(t:webhooks()) do if h.event == "failed" then out[#out + 1] = ts[i] end end
  return out, n
end

-- a recording that records from t=3 s and exits abnormally (20) at t=300 s; its status stays
-- visible (linger) until it is gone at 600 s
local FAILS = { rec_of("r-fail", "s-fail", { { 0, 1 }, { 2, 4 }, { 3, 5 }, { 300, 20 } }, 600, 600) }
local EXIT = { at = 300.5, notice_id = "n-exit", event_type = 11, cname = "c", uid = "7",
               sid = "s-fail", sequence = 10, sendts = 1000, details = { exitStatus = 1 } }

T.case("an abnormal exit with its event is alerted within 2 s of the event", function(t)
  t:scenario{ agora_recordings = FAILS }
  t:start(SCRIPT, { "--recordings", "r-fail:s-fail", "--events", events_json{ EXIT }, "--for", "400" })
  t:advance(400)
  local hooks = failed_alerts(t)
  t:eq(#hooks, 1, "one alert")
  t:ok(hooks[1] >= 300.5 and hooks[1] <= 302.5, "alerted at " .. tostring(hooks[1]))
  t:eq(#t:logs("kind=agora_event_query"), 1, "the event made one query")
  -- its fields (exitStatus, sid, ...) are checked on the JSON log by tests/sh/events_log_fields.sh
  t:eq(#t:logs("kind=agora_event_abnormal_exit"), 1, "the abnormal exit is logged")
end)

T.case("events lost entirely: polling still catches the failure on its interval", function(t)
  t:scenario{ agora_recordings = FAILS }
  t:start(SCRIPT, { "--recordings", "r-fail:s-fail", "--for", "400" })
  t:advance(400)
  local hooks = failed_alerts(t)
  t:eq(#hooks, 1, "one alert")
  -- polls at 5, 125, 245, 365: the failure at 300 is seen at the poll of 365, not before
  t:ok(hooks[1] >= 360 and hooks[1] <= 300 + 120 + 2, "alerted at " .. tostring(hooks[1]))
  t:eq(#t:logs("kind=agora_event_query"), 0)
end)

T.case("a duplicate and an out-of-order event change nothing", function(t)
  t:scenario{ agora_recordings = FAILS }
  local old = { at = 301, notice_id = "n-old", event_type = 3, cname = "c", uid = "7", sid = "s-fail",
                sequence = 4, sendts = 900, details = { status = 5 } }
  local dup = { at = 300.7, notice_id = "n-exit", event_type = 11, cname = "c", uid = "7",
                sid = "s-fail", sequence = 10, sendts = 1000, details = { exitStatus = 1 } }
  local same_seq = { at = 300.9, notice_id = "n-resent", event_type = 11, cname = "c", uid = "7",
                     sid = "s-fail", sequence = 10, sendts = 1000, details = { exitStatus = 1 } }
  local no_seq_old = { at = 302, notice_id = "n-old-ts", event_type = 40, cname = "c", uid = "7",
                       sid = "s-fail", sendts = 500, details = {} }
  -- bad input: no sid, a sid that is not a string, a sequence that is not a number
  local bad1 = { at = 303, notice_id = "b1", event_type = 3, cname = "c" }
  local bad2 = { at = 303, notice_id = "b2", event_type = 3, sid = 5 }
  local bad3 = { at = 303, notice_id = "b3", event_type = "x", sid = "s-fail", sequence = "nope", details = "y" }
  t:start(SCRIPT, { "--recordings", "r-fail:s-fail", "--events",
                    events_json{ EXIT, dup, same_seq, old, no_seq_old, bad1, bad2, bad3 }, "--report", "350",
                    "--for", "400" })
  t:advance(400)
  local st = reports(t)[1].stats
  -- bad3 (event_type "x") never becomes an event: rec.events refuses it at the door, as the
  -- receiver answers such a body 400
  t:eq(#t:logs("inject refused: .*event_type"), 1, "bad3 refused by rec.events.inject")
  t:eq({ st.handled, st.routed, st.old, st.malformed, st.errors }, { 6, 1, 3, 2, 0 },
       "6 handled (the duplicate noticeId never delivered): 1 routed, 3 older, 2 malformed")
  t:eq(#t:logs("kind=agora_event_query"), 1, "only the first exit event made a query (bad3 is not urgent)")
  t:eq(#times(t, "agora", "s-fail", 300.6, 305), 0, "no query for the duplicate nor the older events")
  t:eq(#t:logs("change 5 %-> 20"), 1, "the query decided: 5 -> 20")
  t:eq(#t:logs("change 20 %-> 5"), 0, "the older status update never overwrote it")
  t:eq(#failed_alerts(t), 1, "one alert")
end)

T.case("a fatal error and a failover are logged, each makes a query", function(t)
  t:scenario{ agora_recordings = FAILS }
  local fatal = { at = 50, notice_id = "n-fatal", event_type = 1, cname = "c\nFORGED error x", uid = "7",
                  sid = "s-fail", sequence = 3, sendts = 10,
                  details = { errorLevel = 5, errorCode = 54, errorMsg = "disk\nFORGED line", module = 1 } }
  local fo = { at = 60, notice_id = "n-fo", event_type = 12, cname = "c", uid = "7", sid = "s-fail",
               sequence = 4, sendts = 11, details = { newUid = 99 } }
  t:start(SCRIPT, { "--recordings", "r-fail:s-fail", "--events", events_json{ fatal, fo }, "--for", "100" })
  t:advance(100)
  local f = t:logs("kind=agora_event_fatal")
  t:eq(#f, 1)
  t:eq(#t:logs("^FORGED"), 0, "no line starts with the event's text")
  t:eq(#t:logs("kind=agora_event_failover"), 1)
  t:eq(#t:logs("kind=agora_event_query"), 2, "a fatal error and a failover each make a query")
end)

-- s-disc records from t=3 s and its worker is gone at t=200 s (a normal exit)
local DISC = { rec_of("r-disc", "s-disc", { { 0, 1 }, { 2, 4 }, { 3, 5 } }, 200),
               rec_of("r-two", "s-two", { { 0, 5 } }) }

T.case("a session discovered from its start event, forgotten after its exit is confirmed", function(t)
  t:scenario{ agora_recordings = DISC }
  local evs = {
    { at = 10, notice_id = "d1", event_type = 40, cname = "c", uid = "7", sid = "s-disc", sequence = 1, sendts = 1 },
    { at = 200.5, notice_id = "d2", event_type = 11, cname = "c", uid = "7", sid = "s-disc", sequence = 9, sendts = 9,
      details = { exitStatus = 0 } },
    -- a late, older event after the end: it starts nothing
    { at = 420, notice_id = "d3", event_type = 33, cname = "c", uid = "7", sid = "s-disc", sequence = 5, sendts = 5 },
    -- another session later: sessions come and go with no restart
    { at = 450, notice_id = "e1", event_type = 40, cname = "c2", uid = "8", sid = "s-two", sequence = 1, sendts = 1 },
  }
  local p = t:start(SCRIPT, { "--discover", "--lookup", "s-disc=r-disc,s-two=r-two", "--events", events_json(evs),
                              "--report", "100", "--for", "600" })
  t:advance(500)
  t:eq(p:exited(), nil, "no restart")
  t:eq(#times(t, "agora", "s-disc", 0, 10), 0, "not polled before its first event")
  local q = times(t, "agora", "s-disc", 10, 20)
  t:eq(#q, 1, "polled once its resource id is known")
  t:eq(#t:logs("kind=agora_session_discovered"), 2)
  t:eq(#t:logs("kind=agora_session_polled"), 2)
  local r = reports(t)
  t:eq(r[1].t, 100)
  t:eq(#r[1].watchers, 1)
  t:eq(r[1].watchers[1].mode, "polled")
  t:eq(r[1].watchers[1].key, "agora/sim-agora-app/r-disc/s-disc")
  t:eq(r[1].gauge, { polled = 1, notifications_only = 0 })
  -- the exit event's query sees the 404; the end is confirmed after Agora's 90 s window
  t:eq(#t:logs("kind=agora_session_forgotten"), 1)
  t:eq(#t:logs("%] change nil %-> 5"), 2, "one change (new -> 5) per session, nothing on the way out")
  t:eq(#t:logs("%] change "), 2)
  t:eq(#times(t, "webhook"), 1, "one 'ended' alert")
  t:eq(#r[3].watchers, 0, "gone from watch.status() at t=300 s")
  t:eq(r[3].gauge, { polled = 0, notifications_only = 0 })
  t:eq(#r[3].status.watchers, 0, "and from /status")
  -- forgotten, it is no longer polled: the one query after is the confirming query ha_window
  -- after an end by 404 (docs/api.md, "After an end by 404"), and it finds the end final
  t:eq(#times(t, "agora", "s-disc", 300, 500), 1, "no longer polled but for the one confirming query")
  t:eq(#t:logs("ended for good"), 1)
  t:eq(r[5].watchers[1].key, "agora/sim-agora-app/r-two/s-two", "the second session, at t=500 s")
end)

T.case("a discovered session with no resource id is watched by notifications only", function(t)
  t:scenario{ agora_recordings = DISC }
  local evs = { { at = 10, notice_id = "x1", event_type = 40, cname = "c", uid = "7", sid = "s-unknown", sequence = 1, sendts = 1 } }
  for i = 1, 3 do
    evs[#evs + 1] = { at = 10 + 60 * i, notice_id = "x33-" .. i, event_type = 33, cname = "c", uid = "7",
                      sid = "s-unknown", sequence = 1 + i, sendts = 1 + i }
  end
  -- then silence until 690 s, one event (recovered: seen by the report at 700 s; the event
  -- passes through the store first, so never at the same virtual instant as the report), and its exit
  evs[#evs + 1] = { at = 690, notice_id = "x4", event_type = 33, cname = "c", uid = "7", sid = "s-unknown", sequence = 20, sendts = 20 }
  evs[#evs + 1] = { at = 710, notice_id = "x5", event_type = 11, cname = "c", uid = "7", sid = "s-unknown", sequence = 21, sendts = 21,
                    details = { exitStatus = 0 } }
  t:start(SCRIPT, { "--discover", "--events", events_json(evs), "--report", "100", "--for", "900" })
  t:advance(900)
  local r = reports(t)
  local w = r[2].watchers[1]    -- t=200 s
  t:eq(w.mode, "notifications_only")
  t:eq(w.state, "ok")
  t:eq(r[2].gauge, { polled = 0, notifications_only = 1 })
  local st = r[2].status.watchers[1]
  t:eq(st.key, "agora/sim-agora-app/notifications-only/s-unknown")
  t:eq(st.last_status, "notifications_only", "/status does not show a polled status")
  t:eq(#times(t, "agora", nil, 0, 900), 0, "never queried: there is no resource id to query")
  -- no event since 190 s: stale 300 s later (notify_stale_after)
  t:eq(r[4].watchers[1].state, "ok", "t=400 s")
  t:eq(r[5].watchers[1].state, "stale", "t=500 s")
  t:eq(r[5].status.healthy, false, "/healthz fails")
  t:eq(#t:logs("kind=watcher_stale"), 1)
  t:eq(r[7].watchers[1].state, "ok", "an event at 690 s: recovered")
  -- the exit event: forgotten 60 s later, saying it was never confirmed by a query
  local fg = t:logs("kind=agora_session_forgotten")
  t:eq(#fg, 1)
  t:ok(fg[1]:find("never confirmed", 1, true) ~= nil, fg[1])
  t:eq(#r[8].watchers, 0, "gone at t=800 s")
  t:eq(r[8].gauge, { polled = 0, notifications_only = 0 })
end)

T.case("while events flow, a quiet recording's polls stretch up to max_every, and come back", function(t)
  t:scenario{ agora_recordings = { rec_of("r-q", "s-q", { { 0, 5 } }) } }
  -- heartbeats (event 33) every 60 s until the script stops them at 3000 s; a status update at 2000 s
  local evs = { { at = 2000, notice_id = "u1", event_type = 3, cname = "c", uid = "7", sid = "s-q",
                  sequence = 99999, sendts = 99999, details = { status = 5 } } }
  t:start(SCRIPT, { "--recordings", "r-q:s-q", "--heartbeat", "60", "--heartbeat-until", "3000",
                    "--events", events_json(evs), "--report", "100", "--for", "4050" })
  t:advance(4000)
  local q = times(t, "agora", "s-q")
  local gaps = {}
  for i = 2, #q do gaps[#gaps + 1] = math.floor(q[i] - q[i - 1] + 0.5) end
  -- 5 s first query; 120, then doubling to the 600 s ceiling; the status update at 2000 s asks
  -- for a query at once and the doubling starts again; heartbeats stop at 3000 s: back to 120
  t:eq(q[1], 5)
  t:eq({ gaps[1], gaps[2], gaps[3], gaps[4], gaps[5] }, { 120, 120, 240, 480, 600 })
  for i, g in ipairs(gaps) do t:ok(g <= 600, "gap " .. i .. " within the ceiling: " .. g) end
  local at2000 = times(t, "agora", "s-q", 2000, 2001)
  t:eq(#at2000, 1, "the status update queried at once")
  local after = times(t, "agora", "s-q", 2000.5, 4000)
  t:eq(math.floor(after[1] - 2000 + 0.5), 120, "then every again")
  local late = times(t, "agora", "s-q", 3400, 4000)
  for i = 2, #late do t:eq(math.floor(late[i] - late[i - 1] + 0.5), 120, "no events since 3000 s: every 120 s") end
  for _, r in ipairs(reports(t)) do
    t:eq(r.watchers[1].state, "ok", "never stale at t=" .. r.t)
  end
end)

T.case("a lookup file: unreadable or broken keeps the session notifications only, loudly; once it answers, polled", function(t)
  t:scenario{ agora_recordings = DISC }
  local path = t:tmpfile("rids.json")
  local evs = { { at = 10, notice_id = "f1", event_type = 40, cname = "c", uid = "7", sid = "s-two", sequence = 1, sendts = 1 } }
  t:start(SCRIPT, { "--discover", "--lookup-file", path, "--events", events_json(evs), "--report", "50", "--for", "300" })
  t:advance(20)
  t:eq(#t:logs("kind=resource_lookup_failed cannot read"), 1, "a missing file is said")
  local f = assert(io.open(path, "w")) f:write("{ not json") f:close()
  t:advance(30)                        -- the next lookup, 30 s after the first
  t:eq(#t:logs("kind=resource_lookup_failed the resource lookup file is not"), 1, "a broken file is said")
  t:eq(#times(t, "agora", nil, 0, 50), 0, "not polled")
  f = assert(io.open(path, "w")) f:write('{ "s-two": { "resourceid": "r-two" }, "other": "../x" }') f:close()
  t:advance(100)
  local q = times(t, "agora", "s-two", 0, 150)
  t:ok(#q >= 1 and q[1] >= 70 and q[1] < 80, "polled from the lookup at 70 s (+5 s): " .. tostring(q[1]))
  local r = reports(t)
  t:eq(r[1].watchers[1].mode, "notifications_only", "t=50 s")
  t:eq(r[2].watchers[1].mode, "polled", "t=100 s")
end)

T.case("discover options are checked at the caller's line", function(t)
  local watch = require "rec.watch"
  t:fails(function() watch.agora{ discover = "notifications" } end, "discover needs an appid")
  t:fails(function() watch.agora{ discover = "webhooks", appid = "a" } end, 'discover must be "notifications"')
  t:fails(function() watch.agora{ discover = "notifications", appid = "a", sid = "s" } end, "unknown option 'sid'")
  t:fails(function() watch.agora{ discover = "notifications", appid = "a", resource_lookup = 5 } end,
          "resource_lookup must be a function, a file path or an http%(s%) URL")
  t:fails(function() watch.agora{ discover = "notifications", appid = "a", lookup_evry = 5 } end,
          "did you mean 'lookup_every'")
  t:fails(function() watch.agora{ appid = "a", resourceid = "r", sid = "s", max_every = -1 } end,
          "'max_every' must be a number >= 0")
  for _, o in ipairs{ { discover = "notifications" }, { discover = "notifications", appid = "a", every = -1 },
                     { discover = "notifications", appid = "a", lookup_evry = 5 } } do
    local msg = t:fails(function() watch.agora(o) end)
    t:ok(msg:find("events_watch_test.lua:", 1, true) ~= nil, "names the caller's line: " .. msg)
  end
end)

T.case("a watcher stopped and started again still gets its events", function(t)
  t:scenario{ agora_recordings = FAILS }
  local p = t:start("events/restart.lua", {})
  t:advance(310)
  t:eq(#t:logs("%] change 5 %-> 20"), 1, "the event's query saw the exit")
  t:eq(#times(t, "agora", "s-fail", 300.5, 301), 1, "at once")
  t:eq(p:exited(), 0, "nothing left waiting: the dispatcher ended with its last watcher")
end)

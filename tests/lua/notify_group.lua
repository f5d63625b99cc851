-- rec._group and rec._silence without a clock: the deliverer's hook (group.take, group.flush)
-- driven at explicit times, so group_wait, group_interval, repeat_interval, resolves, a
-- failing receiver and silences are each checked at the second they change something.
-- The option checks and the matcher language (=, !=, =~, !~; the regex subset) too.
local notify = require "rec.notify"
local group = require "rec._group"
local silence = require "rec._silence"
local store = require "rec.store"

local function fails(fn, pat)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pat)
  assert(tostring(err):find(pat), ("error %q does not match %q"):format(tostring(err), pat))
end

---------------------------------------------------------------------------- options
fails(function() notify.slack{ url = "http://x", group = { wiat = 3 } } end, "unknown option 'wiat' %(did you mean 'wait'%?%)")
fails(function() notify.slack{ url = "http://x", group = { by = "alertname" } } end, "group.by is a list")
fails(function() notify.slack{ url = "http://x", group = { wait = -1 } } end, "group.wait is a number")
fails(function() notify.slack{ url = "http://x", group = { interval = 0 } } end, "group.interval is > 0")
fails(function() notify.slack{ url = "http://x", send_resolved = "yes" } end, "'send_resolved' is true or false")
fails(function() notify.outbox{ to = notify.log(), start = false, db = store.open(), group = 5 } end, "'group' is a table")
local s0 = notify.dingtalk{ url = "http://x", group = { by = { "alertname", "app" }, ["repeat"] = false } }
assert(s0.group.wait == 30 and s0.group.interval == 300 and s0.group["repeat"] == false and s0.group.by[2] == "app")
assert(notify.wecom{ url = "http://x", group = true }.group.by[1] == "alertname", "group = true: Alertmanager-like defaults")
assert(notify.feishu{ url = "http://x" }.group == nil, "grouping is off by default")

---------------------------------------------------------------------------- matchers
local re = assert(silence.regex("room-.*"))
assert(re("room-7") and re("room-") and not re("xroom-7"), "anchored like Alertmanager")
re = assert(silence.regex("a|b\\d+"))
assert(re("a") and re("b12") and not re("b") and not re("ab"))
re = assert(silence.regex("[a-c]x?\\.y"))
assert(re("bx.y") and re("c.y") and not re("dx.y") and not re("cxzy"))
assert(not silence.regex("(a|b)"), "groups are refused, not mismatched")
assert(not silence.regex("a{2}"))
assert(not silence.regex("*a"))
assert(not silence.regex("a**"))
local m = assert(silence.parse_matcher('channel=~"room-.*"'))
assert(m.name == "channel" and m.op == "=~" and m.value == "room-.*")
m = assert(silence.parse_matcher("severity != info"))
assert(m.name == "severity" and m.op == "!=" and m.value == "info")
assert(not silence.parse_matcher("=x"))
assert(not silence.parse_matcher("channel<>x"))
assert(not silence.matchers({}), "a silence needs a matcher")
assert(not silence.matchers({ "channel=~(x" }))
assert(silence.matchers({ channel = "room-7", "severity!=info" })[2].op == "!=")

---------------------------------------------------------------------------- silences
local db = store.open()
fails(function() notify.silence{ match = {}, ["for"] = 60 } end, "at least one matcher")
fails(function() notify.silence{ match = { channel = "x" } } end, "'for' %(seconds%) or 'ends'")
fails(function() notify.silence{ match = { channel = "x" }, ["for"] = -5 } end, "'for' is a number of seconds > 0")
fails(function() notify.silence{ match = { channel = "x" }, ["for"] = 5, comentt = "" } end, "unknown option 'comentt'")
fails(function() notify.silence{ match = { "channel=~a(b" }, ["for"] = 5 } end, "not supported")
local now = rec.time()
local sid = notify.silence{ match = { channel = "room-7", "alertname=~Recording.*" }, ["for"] = 3600,
                            author = "ops", comment = "maintenance", db = db }
assert(sid:match("^s%-%x+$"), sid)
local list = notify.silences{ db = db }
assert(#list == 1 and list[1].id == sid and list[1].state == "active" and list[1].author == "ops")
assert(silence.match(db, { channel = "room-7", alertname = "RecordingFailed" }, now + 10).id == sid)
assert(not silence.match(db, { channel = "room-8", alertname = "RecordingFailed" }, now + 10))
assert(not silence.match(db, { channel = "room-7", alertname = "WatcherSilent" }, now + 10))
assert(not silence.match(db, { channel = "room-7", alertname = "RecordingFailed" }, now + 3601), "over after its end")
assert(silence.active_count(now + 10) == 1)
assert(db:get("rec/silence/" .. sid):find('"comment":"maintenance"', 1, true), "kept in the state store")
assert(rec.metrics.text():find("\nrecwatch_silences_active 1\n", 1, true), "the gauge counts it")
assert(rec.json.decode(rec.health.status()).alerts.silences_active == 1, "/status shows it")
assert(notify.expire(sid, { db = db }) == true)
assert(rec.metrics.text():find("\nrecwatch_silences_active 0\n", 1, true), "expired: not active")
assert(notify.silences{ db = db }[1].state == "expired")
assert(not silence.match(db, { channel = "room-7", alertname = "RecordingFailed" }, rec.time() + 1))
local ok, why = notify.expire("s-nope", { db = db })
assert(ok == nil and why:find("no silence"))

---------------------------------------------------------------------------- grouping
-- an outbox-like object: the hook needs db, senders, every, retry_base/max, failed_attempts
local gdb = store.open(os.tmpname())
local got, fail_next = {}, 0
local function sink(name, o)
  local s = notify.webhook_sender{ url = "http://127.0.0.1:1/never", name = name,
                                   group = o.group, send_resolved = o.send_resolved }
  s._send = function(_, a)
    if fail_next > 0 then
      fail_next = fail_next - 1
      return nil, setmetatable({ kind = "server", message = "HTTP 500" }, { __tostring = function() return "server: HTTP 500" end })
    end
    got[#got + 1] = a
    return true
  end
  return s
end
local chat = sink("chat", { group = { wait = 30, interval = 60, ["repeat"] = 300 }, send_resolved = true })
local quiet = sink("quiet", { group = { wait = 30, interval = 60, ["repeat"] = false }, send_resolved = false })
local out = { db = gdb, senders = { chat = chat, quiet = quiet }, every = 0.5, retry_base = 2,
              retry_max = 60, failed_attempts = 0 }
local seq = 0
local function alert(dest, t, fields)
  seq = seq + 1
  local a = { text = fields.text or ("failure " .. seq), alert_id = fields.id or ("al-" .. seq) }
  for k, v in pairs(fields) do a[k] = v end
  a.id = nil
  local row = { id = a.alert_id, dest = dest }
  gdb:enqueue(row.id, dest, rec.json.encode(a))
  assert(group.take(out, out.senders[dest], row, a, t) == true, "taken by the group")
  return a.alert_id
end
local function flush(t) return (group.flush(out, {}, t)) end
local function flushq(t) return (group.flush(out, { chat = true }, t)) end  -- "quiet" alone

local T0 = 1000000
local ids = {}
for i = 1, 3 do ids[i] = alert("chat", T0 + i - 1, { labels = { alertname = "RecordingFailed", channel = "c" .. i } }) end
assert(flush(T0 + 10) == 0 and #got == 0, "inside group_wait")
assert(flush(T0 + 29.4) == 0, "group_wait (30 s, less one pass of 0.5 s) not over")
assert(gdb:counts() == 0, "the rows moved into the group in the store")
assert(next(gdb:keys("rec/group/chat/")), "the waiting group is in the store")
assert(flush(T0 + 29.5) == 1 and #got == 1, "the first message at group_wait")
assert(got[1].count == 3 and got[1].text:find("^3 alerts firing %(RecordingFailed%): c1, c2, c3$"), got[1].text)
local gid = got[1].alert_id
assert(gid:match("^g%-%x+%.1$"), gid)
-- a late joiner waits for group_interval after the last message; the message lists every firing alert
alert("chat", T0 + 40, { labels = { alertname = "RecordingFailed", channel = "c4" } })
assert(flush(T0 + 60) == 0 and #got == 1, "inside group_interval")
assert(flush(T0 + 89.5) == 1 and #got == 2)
assert(got[2].count == 4 and got[2].alert_id:match("%.2$"), got[2].text)
-- nothing changes: repeated after repeat_interval, not before
assert(flush(T0 + 300) == 0)
assert(flush(T0 + 389.5) == 1 and got[3].count == 4, "repeat_interval")
-- a resolve: with send_resolved, at the next group_interval, as a resolve of its own
alert("chat", T0 + 400, { labels = { alertname = "RecordingFailed", channel = "c2" }, id = ids[2],
                           status = "resolved", text = "c2 recovered" })
assert(flush(T0 + 420) == 0)
assert(flush(T0 + 449.5) == 1, "the resolve alone (the rest was sent already)")
assert(got[4].text == "c2 recovered" and got[4].status == "resolved" and got[4].alert_id == ids[2])
-- a failing receiver: retried with backoff, the group kept
alert("chat", T0 + 500, { labels = { alertname = "RecordingFailed", channel = "c5" } })
fail_next = 1
local n = #got
assert(flush(T0 + 509.5) == 0 and #got == n and out.failed_attempts == 1, "the attempt failed")
assert(flush(T0 + 510) == 0, "backoff (2 s) not over")
assert(rec.metrics.text():find('recwatch_alerts_total{state="failed"} 1', 1, true)
       or rec.metrics.text():find('recwatch_alert_results_total{destination="chat",result="failed"} 1', 1, true),
       "the failed group message is counted")
assert(flush(T0 + 511.6) == 1 and got[#got].count == 4, "sent on the retry: c1, c3, c4, c5")

-- send_resolved = false: the resolve ends the alert without a message; repeat = false: no repeats
local a1 = alert("quiet", T0, { labels = { alertname = "RecordingGone", sid = "s1" } })
assert(flushq(T0 + 30) == 1 and got[#got].alert_id == a1, "a group of one is the alert itself")
n = #got
alert("quiet", T0 + 40, { labels = { alertname = "RecordingGone", sid = "s1" }, id = a1, status = "resolved" })
assert(flushq(T0 + 100) == 0 and #got == n, "no resolve message")
assert(flushq(T0 + 100000) == 0 and #got == n, "no repeat")

-- a resolve of an alert never sent (still inside group_wait): nothing at all
local a2 = alert("quiet", T0 + 200000, { labels = { alertname = "X" } })
alert("quiet", T0 + 200001, { labels = { alertname = "X" }, id = a2, status = "resolved" })
assert(flushq(T0 + 200100) == 0 and #got == n)

-- the state survives a new process: a second outbox object on the same store sees the group
alert("chat", T0 + 600, { labels = { alertname = "Other", channel = "z" } })
local out2 = { db = gdb, senders = out.senders, every = 0.5, retry_base = 2, retry_max = 60, failed_attempts = 0 }
n = #got
assert(group.flush(out2, {}, T0 + 610) == 0)
assert(group.flush(out2, {}, T0 + 629.5) == 1 and got[#got].text == "failure " .. seq, "the reloaded group is sent")
assert(#got == n + 1)

-- silences on a sender without grouping: the alert is held as a group of its own
local sdb = store.open(os.tmpname())
local hold = sink("hold", {})
local sout = { db = sdb, senders = { hold = hold }, every = 0.5, retry_base = 2, retry_max = 60,
               failed_attempts = 0, group = { by = { "alertname" }, wait = 30, interval = 60 } }
assert(group.take(sout, notify.log{ name = "hold" }, { id = "l1", dest = "hold" }, { text = "x", alert_id = "l1" }, T0) == false,
       "the log sender is never grouped")
hold.group = false   -- this sender opts out of the outbox's grouping
local rt = rec.time()
notify.silence{ match = { "channel=~room-[0-9]+" }, starts = rt, ["for"] = 100, db = sdb }
local function stake(id, fields, t)
  local a = { text = "t " .. id, alert_id = id }
  for k, v in pairs(fields) do a[k] = v end
  return group.take(sout, hold, { id = id, dest = "hold" }, a, t)
end
assert(stake("h1", { channel = "room-1" }, rt + 1) == true, "silenced: taken")
assert(stake("h2", { channel = "other" }, rt + 1) == false, "not silenced, not grouped: sent as before")
n = #got
assert(group.flush(sout, {}, rt + 50) == 0 and #got == n, "held through the silence")
assert(group.flush(sout, {}, rt + 100) == 1 and got[#got].alert_id == "h1", "sent when it ends")
-- silenced, then resolved inside the silence: nothing sent, nothing left in the store
notify.silence{ match = { channel = "room-2" }, starts = rt, ["for"] = 1000, db = sdb }
assert(stake("h3", { channel = "room-2" }, rt + 200) == true)
assert(next(sdb:keys("rec/group/")) ~= nil)
assert(stake("h3/resolved", { channel = "room-2", alert_id = "h3", status = "resolved" }, rt + 210) == true)
assert(next(sdb:keys("rec/group/")) == nil, "the held alert ended without a message")
-- the resolve of an alert that was sent before the silence is not hidden by it
hold.send_resolved = true
assert(stake("h4/resolved", { channel = "room-2", alert_id = "h4", status = "resolved" }, rt + 220) == false,
       "sent by the deliverer as usual")
n = #got
assert(group.flush(sout, {}, rt + 2000) == 0 and #got == n)

-- an outbox without grouping or silences leaves every row to the deliverer as before
local plain = { db = store.open(os.tmpname()), senders = {}, every = 1 }
local ps = notify.slack{ url = "http://x" }
assert(group.take(plain, ps, { id = "p1", dest = "slack" }, { text = "x", alert_id = "p1" }, T0) == false)
print("notify_group ok")

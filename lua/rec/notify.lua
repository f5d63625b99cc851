-- rec.notify: sending alerts to people. Senders for a plain JSON webhook, DingTalk, WeCom,
-- Feishu and Slack (signing through rec.crypto, i.e. OpenSSL), Alertmanager's API v2, a
-- logging sender, and a durable outbox: alerts are written to the state database
-- (rec.store) first and a deliverer task sends them, retrying with backoff until the
-- receiver accepts them. Each alert carries an id (JSON field "alert_id" for plain
-- webhooks, header X-Alert-Id for every sender) so a receiver can drop the duplicates that
-- at-least-once delivery implies.
--
--   local notify = require "rec.notify"
--   local ok, err = notify.webhook(url, { text = "hello" })          -- one POST, no outbox
--   local ding = notify.dingtalk{ url = URL, secret = SECRET }       -- a sender
--   local ok, err = ding:send{ text = "hello", alert_id = "a-1" }
--   local out = notify.outbox{ to = { ding } }                        -- durable, retried
--   out:alert("task %d failed", 39)
local rec = rec or require "rec"
local batch = require "rec._batch"
local opts = require "rec._opts"
local group = require "rec._group"
local silence = require "rec._silence"

local notify = {}
local crypto = rec.crypto

local function errv(kind, message, extra)
  local e = { kind = kind, message = message, retryable = true, attempts = 1 }
  for k, v in pairs(extra or {}) do e[k] = v end
  return setmetatable(e, { __tostring = function(x) return x.kind .. ": " .. x.message end })
end

-- POSTs body (a table, sent as JSON) to url. Returns the reply r (a 2xx), or nil, err.
local function post_json(url, body, headers, timeout)
  local r, err = rec.http{ method = "POST", url = url, json = body, headers = headers,
                           timeout = timeout or 10 }
  if not r then return nil, err end
  if r.status < 200 or r.status > 299 then
    local excerpt = rec.excerpt(r.body or "", 200)  -- redacted (it may echo the URL), then cut
    return nil, errv(r.status >= 500 and "server" or "protocol",
                     ("HTTP %d from the webhook: %s"):format(r.status, excerpt),
                     { status = r.status, retryable = r.status >= 500 or r.status == 429 })
  end
  return r
end

-- notify.webhook(url, table [, opts]) -> true | nil, err. One JSON POST; any 2xx is success.
-- opts: headers = {...}, timeout = seconds.
function notify.webhook(url, body, o)
  o = o or {}
  opts.check(o, { "headers", "timeout" }, "notify.webhook", 2)
  local r, err = post_json(url, body, o.headers, o.timeout)
  if not r then return nil, err end
  return true
end

---------------------------------------------------------------------------- signing

-- DingTalk: sign = urlencode(base64(HMAC-SHA256(secret, timestamp_ms .. "\n" .. secret))).
-- Returns the signed URL and the (not yet URL-encoded) base64 signature.
function notify.dingtalk_sign(url, secret, timestamp_ms)
  local ts = ("%d"):format(timestamp_ms)
  local sign = crypto.base64(crypto.hmac_sha256(secret, ts .. "\n" .. secret))
  local sep = url:find("?", 1, true) and "&" or "?"
  return url .. sep .. "timestamp=" .. ts .. "&sign=" .. crypto.urlencode(sign), sign
end

-- Feishu: sign = base64(HMAC-SHA256(key = timestamp_s .. "\n" .. secret, message = "")).
function notify.feishu_sign(secret, timestamp_s)
  local ts = ("%d"):format(timestamp_s)
  return crypto.base64(crypto.hmac_sha256(ts .. "\n" .. secret, "")), ts
end

---------------------------------------------------------------------------- senders

local function alert_text(a)
  local t = a.text or ""
  if a.alert_id and a.show_id ~= false then t = t .. "\n(alert " .. a.alert_id .. ")" end
  return t
end

local function headers_for(a)
  if not a.alert_id then return nil end
  local h = { ["X-Alert-Id"] = rec.safe_id(a.alert_id, true) }
  if a.status == "resolved" then h["X-Alert-Status"] = "resolved" end
  return h
end

local Sender = {}
Sender.__index = Sender
function Sender:send(a)
  if type(a) == "string" then a = { text = a } end
  return self._send(self, a)
end
function Sender:__tostring() return "notify sender " .. self.name end

-- Webhook URLs carry their token (access_token=, key=, or a path segment): the URL and the
-- signing secret are registered as secrets, so no log line or error message shows them.
local SENDER_KEYS = {
  webhook = { "url", "name", "timeout", "show_id", "headers", "group", "send_resolved" },
  dingtalk = { "url", "secret", "name", "timeout", "show_id", "group", "send_resolved" },
  wecom = { "url", "name", "timeout", "show_id", "group", "send_resolved" },
  feishu = { "url", "secret", "name", "timeout", "show_id", "group", "send_resolved" },
  slack = { "url", "name", "timeout", "show_id", "group", "send_resolved" },
  log = { "name" },
  alertmanager = { "url", "name", "timeout", "labels", "interval", "k", "hold" },
}

local function sender(kind, o, fn)
  o = o or {}
  if type(o) ~= "table" then error(("notify.%s takes a table"):format(kind), 3) end
  opts.check(o, SENDER_KEYS[kind], "notify." .. (kind == "webhook" and "webhook_sender" or kind), 3)
  if type(o.url) == "string" then rec.secret(o.url) end
  if type(o.secret) == "string" then rec.secret(o.secret) end
  if kind ~= "log" and type(o.url) ~= "string" then
    error(("notify.%s: 'url' is required"):format(kind), 3)
  end
  local where = "notify." .. (kind == "webhook" and "webhook_sender" or kind)
  return setmetatable({ kind = kind, name = o.name or kind, url = o.url, secret = o.secret,
                        timeout = o.timeout, show_id = o.show_id, _send = fn, opts = o,
                        group = group.check(o.group, where, 3),
                        send_resolved = group.check_resolved(o.send_resolved, where, 3) }, Sender)
end

-- The alert model's own fields (labels, starts_at, ends_at) are not part of a plain webhook's
-- body (it stays what it was); a resolve's body says status = "resolved".
local MODEL = { labels = true, starts_at = true, ends_at = true }

-- Plain JSON webhook: the alert table as is (text, alert_id, and any fields you gave).
function notify.webhook_sender(o)
  return sender("webhook", o, function(self, a)
    local body = {}
    for k, v in pairs(a) do if not MODEL[k] then body[k] = v end end
    local h = headers_for(a) or {}
    for k, v in pairs(self.opts.headers or {}) do h[k] = v end
    local r, err = post_json(self.url, body, h, self.timeout)
    if not r then return nil, err end
    return true
  end)
end

-- Checks a chat-ops JSON reply: field `field` must be 0.
local function check_code(r, field, who)
  local j = r.json
  if type(j) ~= "table" then
    local ok, dec = pcall(rec.json.decode, r.body or "")
    j = ok and dec or nil
  end
  if type(j) ~= "table" then
    return nil, errv("protocol", who .. ": the reply is not JSON: " .. (r.body or ""):sub(1, 200),
                     { status = r.status })
  end
  local code = j[field]
  if code ~= 0 then
    return nil, errv("protocol", ("%s: %s=%s %s"):format(who, field, tostring(code),
                     tostring(j.errmsg or j.msg or "")), { status = r.status, code = code })
  end
  return true
end

-- DingTalk custom robot; with secret, the URL is signed (timestamp in milliseconds).
function notify.dingtalk(o)
  return sender("dingtalk", o, function(self, a)
    local url = self.url
    if self.secret then url = notify.dingtalk_sign(url, self.secret, math.floor(rec.time() * 1000)) end
    local r, err = post_json(url, notify.dingtalk_body(alert_text(a)), headers_for(a), self.timeout)
    if not r then return nil, err end
    return check_code(r, "errcode", "dingtalk")
  end)
end
function notify.dingtalk_body(text) return { msgtype = "text", text = { content = text } } end

-- WeCom group robot (the URL carries the key).
function notify.wecom(o)
  return sender("wecom", o, function(self, a)
    local r, err = post_json(self.url, notify.wecom_body(alert_text(a)), headers_for(a), self.timeout)
    if not r then return nil, err end
    return check_code(r, "errcode", "wecom")
  end)
end
function notify.wecom_body(text) return { msgtype = "text", text = { content = text } } end

-- Feishu / Lark custom bot; with secret, "timestamp" (seconds) and "sign" go in the body.
function notify.feishu(o)
  return sender("feishu", o, function(self, a)
    local body = notify.feishu_body(alert_text(a))
    if self.secret then body.sign, body.timestamp = notify.feishu_sign(self.secret, math.floor(rec.time())) end
    local r, err = post_json(self.url, body, headers_for(a), self.timeout)
    if not r then return nil, err end
    return check_code(r, "code", "feishu")
  end)
end
function notify.feishu_body(text) return { msg_type = "text", content = { text = text } } end

-- Slack incoming webhook: the reply is the plain text "ok".
function notify.slack(o)
  return sender("slack", o, function(self, a)
    local r, err = post_json(self.url, notify.slack_body(alert_text(a)), headers_for(a), self.timeout)
    if not r then return nil, err end
    if (r.body or ""):match("^%s*(.-)%s*$") ~= "ok" then
      return nil, errv("protocol", "slack: reply is not 'ok': " .. (r.body or ""):sub(1, 200),
                       { status = r.status })
    end
    return true
  end)
end
function notify.slack_body(text) return { text = text } end

-- Logs the alert ("ALERT ...") at warn level; never fails. The fallback when no URL is set.
function notify.log(o)
  return sender("log", o, function(_, a)
    rec.log.warn("ALERT %s [%s]", a.text or "", a.alert_id or "-")
    return true
  end)
end

---------------------------------------------------------------------------- the alert model
-- Every alert has labels (string -> string; Alertmanager knows an alert by them, silences
-- and grouping match on them), a state (status "firing", or "resolved" for a resolve),
-- starts_at and, once resolved, ends_at (unix seconds). The latest state of every alert id is
-- kept in the state store under "rec/alert/<id>", written in the same transaction as its
-- outbox rows: a resolve takes the labels and starts_at of the firing it ends, and a firing
-- for an id already resolved (an old alert replayed) does not reopen it.
local STATE = "rec/alert/"

-- alertname and severity from what the alert is about (the watcher's facts, or kind=)
local function alertname_of(a, f)
  if a.kind == "watcher_silent" or a.kind == "watcher_recovered" then return "WatcherSilent", "warning" end
  if f.provider == "qingcloud" then
    if f.event == "repair_timeout" or rec.qingcloud.failed[tonumber(f.to)] then return "RecordingFailed", "critical" end
    return "RecordingChanged", "info"
  elseif f.provider == "agora" then
    if f.event == "start_failed" then return "RecordingNotStarted", "critical" end
    if f.event == "ended" then return "RecordingGone", "warning" end
    return "RecordingChanged", "info"
  end
  return "RecwatchAlert", "warning"
end

local function label_name_ok(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and k:sub(1, 2) ~= "__"
end

-- The built-in labels (alertname, provider, app, channel or sid, task, severity, alert_id)
-- and the script's own (labels = {...}, which win, except alert_id).
local function labels_of(a, b, level)
  local f = b and b.facts or {}
  local name, sev = alertname_of(a, f)
  local l = { alertname = name, severity = sev, provider = a.provider or f.provider,
              app = a.app or f.app, channel = a.channel or f.channel, sid = a.sid or f.sid,
              task = a.task_id or f.task, watcher = a.watcher }
  if a.labels ~= nil then
    if type(a.labels) ~= "table" then error("out:alert: 'labels' must be a table", level) end
    for k, v in pairs(a.labels) do
      if not label_name_ok(k) then error(("out:alert: label name %q is not [a-zA-Z_][a-zA-Z0-9_]*"):format(tostring(k)), level) end
      if type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean" then
        error(("out:alert: label %s must be a string"):format(k), level)
      end
      l[k] = v
    end
  end
  local out = {}
  for k, v in pairs(l) do if v ~= nil and v ~= "" then out[k] = tostring(v) end end
  out.alert_id = a.alert_id
  return out
end

-- The latest state kept for an alert id (nil when none).
local function state_of(db, id)
  local v = db:get(STATE .. id)
  if not v then return nil end
  local ok, st = pcall(rec.json.decode, v)
  return ok and type(st) == "table" and st or nil
end
notify._state_of = state_of

---------------------------------------------------------------------------- Alertmanager

local function iso(t)
  local sec = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", sec) .. (".%03dZ"):format(math.floor((t - sec) * 1000))
end

-- The /status page of this process's listener, when one is on (Alertmanager's generatorURL).
local function generator_url()
  local ok, st = pcall(function() return rec.json.decode(rec.health.status()) end)
  if ok and type(st) == "table" and type(st.listen) == "string" then return st.listen .. "/status" end
  return nil
end

-- One postable alert of Alertmanager's API v2 for alert a (its latest state).
local function am_alert(self, a, gen)
  local labels = {}
  for k, v in pairs(self.labels) do labels[k] = v end   -- the destination's labels, then the alert's
  for k, v in pairs(type(a.labels) == "table" and a.labels or {}) do labels[k] = tostring(v) end
  labels.alert_id = a.alert_id and tostring(a.alert_id) or nil
  labels.alertname = labels.alertname or "RecwatchAlert"   -- sent directly (am:send{...})
  local text = tostring(a.text or labels.alertname or "")
  local ends = a.status == "resolved" and (a.ends_at or rec.time())
               or (rec.time() + self.k * self.interval)
  return { labels = labels,
           annotations = { summary = text:match("^[^\n]*"), description = text },
           startsAt = iso(a.starts_at or a.created or rec.time()), endsAt = iso(ends),
           generatorURL = gen }
end

local function am_post(self, list)
  local r, err = post_json(self.api, list, nil, self.timeout)
  if not r then return nil, err end
  return true
end

-- notify.alertmanager{ url = "http://alertmanager:9093", labels = { team = "rtc" }, interval = 60,
--   k = 3, hold = 86400, name =, timeout = } -> a sender for Alertmanager's API v2
-- (POST <url>/api/v2/alerts). A firing alert is posted with endsAt = now + k*interval and
-- re-posted every interval while it is open (not resolved, and younger than hold seconds);
-- a resolve posts endsAt in the past with exactly the same labels. labels are added to every
-- alert (an alert's own labels win). Through an outbox, like every sender.
function notify.alertmanager(o)
  local s = sender("alertmanager", o, function(self, a)
    return am_post(self, { am_alert(self, a, generator_url()) })
  end)
  o = s.opts
  for _, k in ipairs({ "interval", "k", "hold" }) do
    if o[k] ~= nil and (type(o[k]) ~= "number" or o[k] <= 0) then
      error(("notify.alertmanager: '%s' must be a number > 0"):format(k), 2)
    end
  end
  if o.labels ~= nil and type(o.labels) ~= "table" then error("notify.alertmanager: 'labels' must be a table", 2) end
  s.labels = {}
  for k, v in pairs(o.labels or {}) do
    if not label_name_ok(k) then error(("notify.alertmanager: label name %q is not [a-zA-Z_][a-zA-Z0-9_]*"):format(tostring(k)), 2) end
    s.labels[k] = tostring(v)
  end
  s.interval, s.k, s.hold = o.interval or 60, o.k or 3, o.hold or 86400
  s.api = o.url:find("/api/v2/alerts", 1, true) and o.url or (o.url:gsub("/+$", "") .. "/api/v2/alerts")
  rec.secret(s.api)
  -- the deliverer hands this sender an alert's latest state (a firing row replayed after its
  -- resolve posts the resolve), and re-posts the open alerts every interval
  s.latest = function(db, a)
    local st = state_of(db, a.alert_id)
    if st and st.status == "resolved" and a.status ~= "resolved" then
      local c = {}
      for k, v in pairs(a) do c[k] = v end
      c.status, c.ends_at, c.labels, c.starts_at = "resolved", st.ends_at, st.labels, st.starts_at
      return c
    end
    return a
  end
  s.repost = function(self, list)
    local gen = generator_url()
    local body = {}
    for _, a in ipairs(list) do body[#body + 1] = am_alert(self, a, gen) end
    return am_post(self, body)
  end
  return s
end

local kinds = { webhook = notify.webhook_sender, dingtalk = notify.dingtalk, wecom = notify.wecom,
                feishu = notify.feishu, slack = notify.slack, alertmanager = notify.alertmanager }

-- A sender from settings: url (nil gives the logging sender), kind (webhook, dingtalk, wecom,
-- feishu, slack), secret, name. notify.from_env() reads RECWATCH_WEBHOOK_URL,
-- RECWATCH_WEBHOOK_KIND and RECWATCH_WEBHOOK_SECRET.
function notify.sender_from(o)
  o = o or {}
  opts.check(o, { "url", "kind", "secret", "name", "group", "send_resolved" }, "notify.sender_from", 2)
  -- the log sender logs every alert and resolve as it comes: group and send_resolved are the
  -- chat senders' options
  if not o.url or o.url == "" then return notify.log{ name = o.name } end
  local make = kinds[o.kind or "webhook"]
  if not make then error("notify: unknown webhook kind '" .. tostring(o.kind) .. "'", 2) end
  return make{ url = o.url, secret = (o.secret ~= "" and o.secret or nil), name = o.name or "alerts",
               group = o.group, send_resolved = o.send_resolved }
end

-- Without a URL anywhere, under `recwatch run --sim` alerts go to the simulator's webhook
-- sink (rec.sim.webhook_url), so a demo shows the whole delivery path; otherwise to the log.
function notify.from_env(o)
  o = o or {}
  opts.check(o, { "url", "kind", "secret", "name", "group", "send_resolved" }, "notify.from_env", 2)
  local sim_sink = rec.sim and rec.sim.webhook_url
  return notify.sender_from{ url = o.url or os.getenv("RECWATCH_WEBHOOK_URL") or sim_sink,
                             kind = o.kind or os.getenv("RECWATCH_WEBHOOK_KIND"),
                             secret = o.secret or os.getenv("RECWATCH_WEBHOOK_SECRET"),
                             name = o.name, group = o.group, send_resolved = o.send_resolved }
end

---------------------------------------------------------------------------- outbox

local Outbox = {}
Outbox.__index = Outbox
local counter = 0

local function fresh_id()
  counter = counter + 1
  return ("a-%s-%d"):format(crypto.md5_hex(("%.6f/%.6f/%d/%d"):format(rec.time(), rec.now(),
                            counter, math.random(1, 1 << 30))):sub(1, 16), counter)
end

-- notify.outbox{ to = sender or {senders...}, db = store (default: the state file),
--   every = 1 (seconds between delivery passes when nothing new is queued; a new alert wakes
--   the deliverer at once), retry_base = 2, retry_max = 60 (backoff
--   between attempts of one alert: base, 2*base, 4*base, ... capped at max), batch = 50,
--   keep = 604800 (seconds delivered alerts stay in the database), start = true (start the
--   deliverer task now) }
function notify.outbox(o)
  o = o or {}
  opts.check(o, { "to", "db", "every", "retry_base", "retry_max", "batch", "keep", "start",
                  "group" }, "notify.outbox", 2)
  local to = o.to or notify.log()
  if getmetatable(to) == Sender then to = { to } end
  local self = setmetatable({
    db = o.db or require("rec.store").open(),
    senders = {}, order = {},
    every = o.every or 1, retry_base = o.retry_base or 2, retry_max = o.retry_max or 60,
    batch = o.batch or 50, keep = o.keep, stopped = false, delivered = 0, failed_attempts = 0,
    wake = rec.event(),
    group = group.check(o.group, "notify.outbox", 2),  -- the chat senders' default (rec._group)
  }, Outbox)
  for _, s in ipairs(to) do
    if self.senders[s.name] then error("notify.outbox: two senders named '" .. s.name .. "'", 2) end
    self.senders[s.name] = s
    self.order[#self.order + 1] = s.name
  end
  if o.start ~= false then self:start() end
  return self
end

-- Log fields of an alert: its id, the sender's kind, and the keys it carries.
local KEYS = { "provider", "app", "channel", "task_id", "resourceid", "sid" }
local function alert_fields(a, extra)
  local f = extra or {}
  f.alert_id = a.alert_id
  for _, k in ipairs(KEYS) do
    local v = a[k]
    if type(v) == "string" or type(v) == "number" then f[k] = v end
  end
  return f
end
notify._alert_fields = alert_fields

-- Records an alert for every sender. Inside a watcher callback the rows are committed in the
-- same transaction as the watcher's new state (ids derived from the transition, stable across
-- restarts); elsewhere at once, in a transaction of their own. Accepts a format string and
-- arguments, or a table {text=..., id=..., key=..., any other fields}. Returns the alert id:
-- `id` as given; else inside a watcher callback one made from the provider's facts (plus the
-- key when given); else the key itself; else a random one.
-- status = "resolved" ends the alert with that id (a watcher's, give the same id or key):
-- it is sent with the labels and starts_at of the firing alert, once; a later firing for a
-- resolved id is dropped (logged). labels = {...} adds the script's labels.
function Outbox:alert(fmt, ...)
  local a
  if type(fmt) == "table" then
    a = {}
    for k, v in pairs(fmt) do a[k] = v end
  else
    a = { text = select("#", ...) > 0 and fmt:format(...) or tostring(fmt) }
  end
  local b = batch.current()
  if a.key ~= nil and type(a.key) ~= "string" and type(a.key) ~= "number" then
    error("out:alert: 'key' must be a string", 2)
  end
  if not a.id then
    if b and b.db == self.db then
      -- in a watcher's batch: the transition's stable base, then the key or the n-th alert
      if a.key then a.id = b.id_base .. "/" .. tostring(a.key)
      else
        b.n = b.n + 1
        a.id = b.id_base .. "." .. b.n
      end
    elseif a.key then
      a.id = tostring(a.key)   -- stable: the same key is the same alert, in any process
    else
      a.id = fresh_id()
    end
  end
  a.alert_id, a.id = rec.safe_id(a.id, true), nil  -- it becomes a header and a log field
  a.created = a.created or rec.time()
  if a.status ~= nil and a.status ~= "firing" and a.status ~= "resolved" and type(a.status) ~= "number" then
    error("out:alert: 'status' must be \"firing\" or \"resolved\"", 2)
  end
  local resolved = a.status == "resolved"
  local prev = state_of(self.db, a.alert_id)
  if prev and prev.status == "resolved" then
    rec.log.info("alert %s is resolved already: a %s for it is dropped (an old alert replayed does not reopen it)",
                 a.alert_id, resolved and "second resolve" or "firing", alert_fields(a))
    return a.alert_id
  end
  if resolved then
    a.labels = prev and prev.labels or labels_of(a, b, 3)
    a.starts_at = prev and prev.starts_at or a.starts_at or a.created
    a.ends_at = a.ends_at or rec.time()
  else
    a.labels = labels_of(a, b, 3)
    a.starts_at = prev and prev.starts_at or a.starts_at or a.created
  end
  -- the destinations it was queued for (with those of an earlier queueing of the same id, by
  -- another outbox on this state file): a sender re-posts only its own (Outbox:repost)
  local dests, seen = {}, {}
  for _, list in ipairs({ prev and type(prev.dests) == "table" and prev.dests or {}, self.order }) do
    for _, name in ipairs(list) do
      if type(name) == "string" and not seen[name] then seen[name], dests[#dests + 1] = true, name end
    end
  end
  local state = assert(rec.json.encode{ status = resolved and "resolved" or "firing", labels = a.labels,
    starts_at = a.starts_at, ends_at = a.ends_at, text = a.text, at = rec.time(), dests = dests })
  local payload = assert(rec.json.encode(a))
  -- a resolve is a row of its own (the firing's row id is taken); it carries the same alert_id
  local row = resolved and (a.alert_id .. "/resolved") or a.alert_id
  local function put(db)
    db:set(STATE .. a.alert_id, state)
    for _, name in ipairs(self.order) do db:enqueue(row, name, payload) end
  end
  if b and b.db == self.db then
    b.items[#b.items + 1] = put
  else
    local ok, err = self.db:transaction(put)
    if not ok then error(err, 2) end
  end
  rec.log.info("alert %s queued: %s", a.alert_id, a.text or "", alert_fields(a))
  self.wake:set()  -- inside a watcher's batch the rows commit later; the next pass takes them
  return a.alert_id
end

local function err_of(e)
  if type(e) == "table" then return e end
  return errv("internal", "the sender failed: " .. tostring(e), { retryable = true })
end

local function backoff(self, attempts)
  local d = self.retry_base * 2 ^ math.max(0, attempts)
  return math.min(d, self.retry_max)
end

-- Fleet (docs/workflows.md, "Fleet: watch.fleet and the sessions set"): a row queued under a
-- unit (a fleet watcher's commit) is sent only while this member holds that unit and may act
-- for it, asked at send time: a member that lost the unit since the claim leaves the row to
-- the new owner (the claim lapses), which sends it under the same id. Said once per row.
local function unit_may_send(self, row)
  local u = row.unit
  if type(u) ~= "string" or u == "" or not self.db.unit then return true end
  local ok, tok, why = pcall(self.db.unit, self.db, u)
  if ok and tok then return true end
  self._fenced = self._fenced or {}
  local k = row.id .. "\0" .. row.dest
  if not self._fenced[k] then
    if self._fenced_n and self._fenced_n >= 1000 then self._fenced, self._fenced_n = {}, 0 end
    self._fenced[k], self._fenced_n = true, (self._fenced_n or 0) + 1
    rec.log.info("kind=alert_fenced outbox: alert %s for %s is not sent by this member: unit %s is not held here now (%s); its owner sends it",
                 row.id, row.dest, u, tostring(ok and why or tok), { alert_id = row.id, unit = u, dest = row.dest })
  end
  return false
end

-- One delivery pass: sends every due alert once. Returns delivered, still_pending.
-- An alert delivered whose record could not be written (the store was locked) is handed to
-- the store (db:delivered_later): it records it before its next claim, and neither hands
-- that row out again nor counts it as pending.
function Outbox:drain()
  local rows = self.db:pending(self.batch)
  local t = rec.time()  -- grouping/silence hook
  local down = {}   -- a sender that failed is skipped for the rest of this pass
  local n = 0
  for _, row in ipairs(rows) do
    local s = self.senders[row.dest]
    if not s then
      if not self._warned then
        rec.log.warn("outbox: alert %s is for '%s', which this script does not configure; it stays queued",
                     row.id, row.dest)
        self._warned = true
      end
    elseif not down[row.dest] and not unit_may_send(self, row) then
      -- fleet: a row of a unit this member does not hold now is left to its owner
    elseif not down[row.dest] then
      local okd, a = pcall(rec.json.decode, row.payload)
      if not okd or type(a) ~= "table" then a = { text = row.payload } end
      if type(a.alert_id) ~= "string" then a.alert_id = row.id end  -- a resolve's row is id/resolved
      if s.latest then a = s.latest(self.db, a) end   -- Alertmanager: the alert's latest state
      -- grouping/silence hook: a row a group or a silence takes is sent by group.flush
      if group.take(self, s, row, a, t) then goto next_row end
      local okc, ok, err = pcall(s.send, s, a)
      if not okc then ok, err = nil, err_of(ok) end
      if not ok and type(err) == "table" and err.kind == "cancelled" then
        break  -- the engine is stopping: not a failed delivery, the alert stays queued
      end
      if ok then
        self.delivered = self.delivered + 1
        n = n + 1
        rec.metrics.alert_result(row.dest, "sent")
        rec.log.info("ALERT delivered to %s [%s]%s: %s", row.dest, a.alert_id,
                     a.status == "resolved" and " resolved" or "", tostring(a.text or ""),
                     alert_fields(a, { kind = s.kind, dest = row.dest }))
        local okr, rerr = pcall(self.db.delivered, self.db, row.id, row.dest)
        if not okr then
          rec.log.warn("outbox: alert %s was delivered to %s but cannot be recorded yet (it will not be sent again): %s",
                       row.id, row.dest, tostring(rerr))
          self.db:delivered_later(row.id, row.dest)
        end
      else
        down[row.dest] = true
        self.failed_attempts = self.failed_attempts + 1
        rec.metrics.alert_result(row.dest, "failed")
        local wait = backoff(self, row.attempts)
        rec.log.warn("outbox: delivery of %s to %s failed (attempt %d, next in %gs): %s",
                     row.id, row.dest, row.attempts + 1, wait, tostring(err),
                     alert_fields(a, { kind = s.kind, dest = row.dest }))
        self.db:attempt_failed(row.id, row.dest, rec.time() + wait, tostring(err))
      end
    end
    ::next_row::
  end
  n = n + group.flush(self, down, t)  -- grouping/silence hook: the groups due now
  return n, (self.db:counts())
end

-- Is an alert's kept state st for destination name? Its dests say where it was queued; a
-- state kept before they were recorded (no dests) counts for every destination: re-posting
-- one alert too many is bearable, letting Alertmanager time out an open alert is not.
local function meant_for(st, name)
  if type(st.dests) ~= "table" then return true end
  for _, d in ipairs(st.dests) do if d == name then return true end end
  return false
end

-- Re-posts the open alerts (firing, younger than the sender's hold, queued for that sender)
-- to every sender that re-posts (Alertmanager), once per its interval: no outbox rows, the
-- latest state only.
function Outbox:repost()
  local t = rec.time()
  for _, name in ipairs(self.order) do
    local s = self.senders[name]
    if s.repost and not s.next_repost then s.next_repost = t + s.interval
    elseif s.repost and t >= s.next_repost then
      s.next_repost = t + s.interval
      local list = {}
      for k, v in pairs(self.db:keys(STATE)) do
        local ok, st = pcall(rec.json.decode, v)
        if ok and type(st) == "table" and st.status == "firing" and t - (st.starts_at or 0) < s.hold
           and meant_for(st, name) then
          list[#list + 1] = { alert_id = k:sub(#STATE + 1), labels = st.labels, starts_at = st.starts_at, text = st.text }
        end
      end
      if #list > 0 then
        local okc, ok, err = pcall(s.repost, s, list)
        if not okc then ok, err = nil, err_of(ok) end
        if ok then
          rec.log.debug("outbox: %d open alert(s) re-posted to %s", #list, name)
        elseif not (type(err) == "table" and err.kind == "cancelled") then
          self.failed_attempts = self.failed_attempts + 1
          rec.log.warn("outbox: re-posting %d open alert(s) to %s failed (again in %gs): %s", #list, name,
                       s.interval, tostring(err), { dest = name, kind = s.kind })
        end
      end
    end
  end
end

-- Forgets the kept state of alerts last changed more than `age` seconds ago (as the
-- delivered rows are forgotten): an alert that old no longer stops a replayed firing.
function Outbox:prune_states(age)
  local old, t = {}, rec.time()
  for k, v in pairs(self.db:keys(STATE)) do
    local ok, st = pcall(rec.json.decode, v)
    if not ok or type(st) ~= "table" or t - (tonumber(st.at) or 0) > age then old[#old + 1] = k end
  end
  if #old == 0 then return 0 end
  local ok, err = self.db:transaction(function(db) for _, k in ipairs(old) do db:set(k, nil) end end)
  if not ok then error(err, 0) end
  return #old
end

function Outbox:start()
  if self.task then return self end
  self.task = rec.spawn(function()
    while not self.stopped do
      self.wake:clear()  -- an alert queued during this pass sets it again
      local ok, err = pcall(self.drain, self)
      -- stopping (SIGTERM, a reload): a store call in the pass returned cancelled; the
      -- alerts stay queued for the next run, which is no delivery failure
      if not ok and (rec.cancelled() or (type(err) == "table" and err.kind == "cancelled")) then break end
      if not ok then
        self.pass_errors = (self.pass_errors or 0) + 1
        rec.log.error("kind=outbox_error outbox: delivery pass failed (%d so far): %s", self.pass_errors, tostring(err))
      end
      if self.stopped then break end
      pcall(self.repost, self)
      if rec.now() >= (self.next_prune or 0) then   -- delivered alerts are kept a week
        self.next_prune = rec.now() + 3600
        pcall(self.db.prune, self.db, self.keep or 7 * 86400)
        pcall(self.prune_states, self, self.keep or 7 * 86400)
      end
      local _, werr = self.wake:wait(self.every)
      if werr and werr.kind == "cancelled" then break end  -- the engine is stopping
    end
  end)
  return self
end

-- Number of alerts not delivered yet (for every sender); a sent alert whose record is still
-- missing does not count (the store leaves it out).
function Outbox:pending()
  return (self.db:counts())
end

-- Waits until every queued alert is delivered or `timeout` seconds passed (default 30).
-- Returns true when nothing is pending.
function Outbox:flush(timeout)
  local deadline = rec.now() + (timeout or 30)
  local function left()
    local ok, n = pcall(self.pending, self)
    return ok and n or 1
  end
  while left() > 0 and rec.now() < deadline do
    if self.stopped then pcall(self.drain, self) end
    if not rec.sleep(math.min(0.2, self.every)) then break end  -- cancelled
  end
  return left() == 0
end

-- Stops the deliverer (after its current send). Queued alerts stay in the database.
function Outbox:stop()
  self.stopped = true
  self.wake:set()
end

---------------------------------------------------------------------------- silences

-- notify.silence{ match = { channel = "room-7", "severity!=info", "alertname=~Watcher.*" },
--   ["for"] = seconds | ends = unix time, starts = unix time (default now), author =,
--   comment =, db = store (default: the state file) } -> id. Every outbox on that state file
-- holds the alerts it matches (rec._silence, rec._group): recorded, not sent, and sent when
-- the silence ends if they still fire.
function notify.silence(o)
  if type(o) ~= "table" then error("notify.silence takes a table", 2) end
  opts.check(o, { "match", "for", "ends", "starts", "author", "comment", "db" }, "notify.silence", 2)
  local db = o.db or require("rec.store").open()
  local s = silence.add(db, o, "notify.silence", 2)
  rec.log.info("silence %s added until %s by %s: %s (%s)", s.id,
               os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(s.ends_at)), s.author ~= "" and s.author or "-",
               notify.matchers_text(s.matchers), s.comment)
  return s.id
end

-- "channel=room-7, severity!=info": matchers as text.
function notify.matchers_text(list)
  local parts = {}
  for i, m in ipairs(list) do parts[i] = m.name .. m.op .. m.value end
  return table.concat(parts, ", ")
end

-- notify.silences([{ db = store }]) -> list of { id, matchers, starts_at, ends_at, author,
-- comment, created_at, state = "pending" | "active" | "expired" }, newest first.
function notify.silences(o)
  o = o or {}
  opts.check(o, { "db" }, "notify.silences", 2)
  return silence.list(o.db or require("rec.store").open())
end

-- notify.expire(id [, { db = store }]) -> true | nil, why: ends a silence now.
function notify.expire(id, o)
  o = o or {}
  opts.check(o, { "db" }, "notify.expire", 2)
  local ok, why = silence.expire(o.db or require("rec.store").open(), id)
  if ok then rec.log.info("silence %s expired", tostring(id)) end
  return ok, why
end

---------------------------------------------------------------------------- heartbeat

-- The listener's admin routes (admin.c, ladmin.c: `recwatch run --admin-token-file`), run
-- here on the main loop, each request in a task of its own, on the state file's silences:
--   GET /admin/silences            -> 200 { silences = [...] } (notify.silences())
--   POST /admin/silences { matchers = { "channel=room-7", ... }, ["for"] = seconds | ends =
--     unix time, starts =, author =, comment = }  -> 201 { id =, silence = {...} }
--   DELETE /admin/silences/ID      -> 200 { id =, expired = true }, 404 unknown, 409 over
-- Returns status, document (a table). A bad request is 400 with the reason, never a crash.
local ADMIN_ROUTES = "GET or POST /admin/silences, DELETE /admin/silences/ID"
function notify._admin(req)
  local path = (req.path or ""):gsub("/+$", "")
  if path == "/admin/silences" then
    if req.method == "GET" then
      return 200, { silences = rec.json.array(notify.silences()) }
    elseif req.method ~= "POST" then
      return 405, { error = req.method .. " /admin/silences: use GET (list) or POST (add)" }
    end
    local okd, o = pcall(rec.json.decode, req.body or "")
    if not okd or type(o) ~= "table" then
      return 400, { error = "the body is a JSON object: { matchers = [\"channel=room-7\"], for = seconds, comment = ... }" }
    end
    for k in pairs(o) do
      if k ~= "matchers" and k ~= "match" and k ~= "for" and k ~= "ends" and k ~= "starts"
         and k ~= "author" and k ~= "comment" then
        return 400, { error = ("unknown field '%s' (matchers, for, ends, starts, author, comment)"):format(tostring(k)) }
      end
    end
    local match = {}
    if type(o.matchers) == "table" then
      for i, m in ipairs(o.matchers) do match[i] = m end
    elseif o.matchers ~= nil then
      return 400, { error = "'matchers' is a list of strings like \"channel=room-7\"" }
    end
    if type(o.match) == "table" then
      for k, v in pairs(o.match) do match[k] = v end
    elseif o.match ~= nil then
      return 400, { error = "'match' is an object of label = value" }
    end
    local ok, id = pcall(notify.silence, { match = match, ["for"] = o["for"], ends = o.ends,
                                           starts = o.starts, author = o.author, comment = o.comment })
    if not ok then
      if type(id) == "table" then   -- the state store failed: not the request's fault
        return 503, { error = "the silence could not be stored: " .. tostring(id) }
      end
      return 400, { error = (tostring(id):gsub("^.-notify%.silence: ", "")) }
    end
    for _, s in ipairs(notify.silences()) do
      if s.id == id then return 201, { id = id, silence = s } end
    end
    return 201, { id = id }
  end
  local id = path:match("^/admin/silences/([^/]+)$")
  if id then
    if req.method ~= "DELETE" then
      return 405, { error = req.method .. " /admin/silences/ID: use DELETE (expire)" }
    end
    local ok, why = notify.expire(id)
    if ok then return 200, { id = id, expired = true } end
    if tostring(why):match("^no silence") then return 404, { error = why } end
    return 409, { error = why }
  end
  return 404, { error = "no admin route " .. tostring(req.path) .. ": try " .. ADMIN_ROUTES }
end

if rec.admin then
  rec.admin.serve(function(req)
    local ok, status, doc = pcall(notify._admin, req)
    if not ok then
      rec.log.error("admin: %s %s failed: %s", tostring(req.method), tostring(req.path), tostring(status))
      status, doc = 500, { error = "the handler failed: " .. tostring(status) }
    end
    local okj, body = pcall(rec.json.encode, doc)
    if not okj or not body then status, body = 500, '{"error":"the answer could not be encoded"}' end
    rec.admin.reply(req.id, status, body .. "\n")
  end)
end

-- notify.heartbeat{ url=, every=60, method="GET" | "POST", timeout=10, name= } -> handle
-- A dead man's switch: requests url every `every` seconds while every watcher is healthy
-- (rec.watch: none stale, no callbacks failing). The service alerts when the pings stop,
-- which also covers a process that is dead or hung. handle:stop() ends it.
function notify.heartbeat(o)
  if type(o) ~= "table" then error("notify.heartbeat takes a table", 2) end
  opts.check(o, { "url", "every", "method", "timeout", "name" }, "notify.heartbeat", 2)
  if type(o.url) ~= "string" then error("notify.heartbeat: 'url' is required", 2) end
  if o.every ~= nil and (type(o.every) ~= "number" or o.every <= 0) then
    error("notify.heartbeat: 'every' must be a number of seconds > 0", 2)
  end
  local method = (o.method or "GET"):upper()
  if method ~= "GET" and method ~= "POST" then error("notify.heartbeat: 'method' must be GET or POST", 2) end
  rec.secret(o.url)
  local watch = require "rec.watch"
  local hb = { sent = 0, skipped = 0, failed = 0, stopped = false }
  local every = o.every or 60
  hb.task = rec.spawn(function()
    while not hb.stopped do
      if watch.healthy() then
        local r, err = rec.http{ method = method, url = o.url, timeout = o.timeout or 10,
                                 body = method == "POST" and "" or nil }
        if r and r.status >= 200 and r.status < 300 then
          hb.sent = hb.sent + 1
        elseif not (err and err.kind == "cancelled") then
          hb.failed = hb.failed + 1
          rec.log.warn("kind=heartbeat_failed heartbeat %s: %s", o.name or "ping",
                       r and ("HTTP " .. r.status) or tostring(err))
        end
      else
        hb.skipped = hb.skipped + 1
        if not hb.withheld then   -- once per unhealthy spell
          rec.log.warn("kind=heartbeat_withheld heartbeat %s withheld: a watcher is stale or failing", o.name or "ping")
        end
      end
      hb.withheld = not watch.healthy()
      if hb.stopped or not rec.sleep(every) then break end
    end
  end)
  function hb.stop()
    hb.stopped = true
    hb.task:cancel()
  end
  return hb
end

return notify

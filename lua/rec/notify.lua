-- rec.notify: sending alerts to people. Senders for a plain JSON webhook, DingTalk, WeCom,
-- Feishu and Slack (signing through rec.crypto, i.e. OpenSSL), a logging sender, and a
-- durable outbox: alerts are written to the state database (rec.store) first and a deliverer
-- task sends them, retrying with backoff until the receiver accepts them. Each alert carries
-- an id (JSON field "alert_id" for plain webhooks, header X-Alert-Id for every sender) so a
-- receiver can drop the duplicates that at-least-once delivery implies.
--
--   local notify = require "rec.notify"
--   local ok, err = notify.webhook(url, { text = "hello" })          -- one POST, no outbox
--   local ding = notify.dingtalk{ url = URL, secret = SECRET }       -- a sender
--   local ok, err = ding:send{ text = "hello", alert_id = "a-1" }
--   local out = notify.outbox{ to = { ding } }                        -- durable, retried
--   out:alert("task %d failed", 39)
local rec = rec or require "rec"
local batch = require "rec._batch"

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
function notify.webhook(url, body, opts)
  opts = opts or {}
  local r, err = post_json(url, body, opts.headers, opts.timeout)
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
  return a.alert_id and { ["X-Alert-Id"] = rec.safe_id(a.alert_id) } or nil
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
local function sender(kind, o, fn)
  o = o or {}
  if type(o.url) == "string" then rec.secret(o.url) end
  if type(o.secret) == "string" then rec.secret(o.secret) end
  if kind ~= "log" and type(o.url) ~= "string" then
    error(("notify.%s: 'url' is required"):format(kind), 3)
  end
  return setmetatable({ kind = kind, name = o.name or kind, url = o.url, secret = o.secret,
                        timeout = o.timeout, show_id = o.show_id, _send = fn, opts = o }, Sender)
end

-- Plain JSON webhook: the alert table as is (text, alert_id, and any fields you gave).
function notify.webhook_sender(o)
  return sender("webhook", o, function(self, a)
    local body = {}
    for k, v in pairs(a) do body[k] = v end
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

local kinds = { webhook = notify.webhook_sender, dingtalk = notify.dingtalk, wecom = notify.wecom,
                feishu = notify.feishu, slack = notify.slack }

-- A sender from settings: url (nil gives the logging sender), kind (webhook, dingtalk, wecom,
-- feishu, slack), secret, name. notify.from_env() reads RECWATCH_WEBHOOK_URL,
-- RECWATCH_WEBHOOK_KIND and RECWATCH_WEBHOOK_SECRET.
function notify.sender_from(o)
  o = o or {}
  if not o.url or o.url == "" then return notify.log{ name = o.name } end
  local make = kinds[o.kind or "webhook"]
  if not make then error("notify: unknown webhook kind '" .. tostring(o.kind) .. "'", 2) end
  return make{ url = o.url, secret = (o.secret ~= "" and o.secret or nil), name = o.name or "alerts" }
end

-- Without a URL anywhere, under `recwatch run --sim` alerts go to the simulator's webhook
-- sink (rec.sim.webhook_url), so a demo shows the whole delivery path; otherwise to the log.
function notify.from_env(o)
  o = o or {}
  local sim_sink = rec.sim and rec.sim.webhook_url
  return notify.sender_from{ url = o.url or os.getenv("RECWATCH_WEBHOOK_URL") or sim_sink,
                             kind = o.kind or os.getenv("RECWATCH_WEBHOOK_KIND"),
                             secret = o.secret or os.getenv("RECWATCH_WEBHOOK_SECRET"),
                             name = o.name }
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
  local to = o.to or notify.log()
  if getmetatable(to) == Sender then to = { to } end
  local self = setmetatable({
    db = o.db or require("rec.store").open(),
    senders = {}, order = {},
    every = o.every or 1, retry_base = o.retry_base or 2, retry_max = o.retry_max or 60,
    batch = o.batch or 50, keep = o.keep, stopped = false, delivered = 0, failed_attempts = 0,
    wake = rec.event(),
  }, Outbox)
  for _, s in ipairs(to) do
    if self.senders[s.name] then error("notify.outbox: two senders named '" .. s.name .. "'", 2) end
    self.senders[s.name] = s
    self.order[#self.order + 1] = s.name
  end
  if o.start ~= false then self:start() end
  return self
end

-- Records an alert for every sender. Inside a watcher callback the rows are committed in the
-- same transaction as the watcher's new state (ids derived from the transition, stable across
-- restarts); elsewhere at once, in a transaction of their own. Accepts a format string and
-- arguments, or a table {text=..., id=..., any other fields}. Returns the alert id.
function Outbox:alert(fmt, ...)
  local a
  if type(fmt) == "table" then
    a = {}
    for k, v in pairs(fmt) do a[k] = v end
  else
    a = { text = select("#", ...) > 0 and fmt:format(...) or tostring(fmt) }
  end
  local b = batch.current()
  if not a.id then
    if b and b.db == self.db then
      b.n = b.n + 1
      a.id = b.id_base .. "." .. b.n
    else
      a.id = fresh_id()
    end
  end
  a.alert_id, a.id = rec.safe_id(a.id), nil  -- it becomes a header and a log field
  a.created = a.created or rec.time()
  local payload = assert(rec.json.encode(a))
  local function put(db)
    for _, name in ipairs(self.order) do db:enqueue(a.alert_id, name, payload) end
  end
  if b and b.db == self.db then
    b.items[#b.items + 1] = put
  else
    local ok, err = self.db:transaction(put)
    if not ok then error(err, 2) end
  end
  rec.log.info("alert %s queued: %s", a.alert_id, a.text or "")
  self.wake:set()  -- inside a watcher's batch the rows commit later; the next pass takes them
  return a.alert_id
end

local function backoff(self, attempts)
  local d = self.retry_base * 2 ^ math.max(0, attempts)
  return math.min(d, self.retry_max)
end

-- One delivery pass: sends every due alert once. Returns delivered, still_pending.
function Outbox:drain()
  local rows = self.db:pending(self.batch)
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
    elseif not down[row.dest] then
      local a = rec.json.decode(row.payload) or { text = row.payload }
      a.alert_id = row.id
      local ok, err = s:send(a)
      if not ok and type(err) == "table" and err.kind == "cancelled" then
        break  -- the engine is stopping: not a failed delivery, the alert stays queued
      end
      if ok then
        self.db:delivered(row.id, row.dest)
        self.delivered = self.delivered + 1
        n = n + 1
        rec.log.info("ALERT delivered to %s [%s]: %s", row.dest, row.id, a.text or "")
      else
        down[row.dest] = true
        self.failed_attempts = self.failed_attempts + 1
        local wait = backoff(self, row.attempts)
        self.db:attempt_failed(row.id, row.dest, rec.time() + wait, tostring(err))
        rec.log.warn("outbox: delivery of %s to %s failed (attempt %d, next in %gs): %s",
                     row.id, row.dest, row.attempts + 1, wait, tostring(err))
      end
    end
  end
  return n, (self.db:counts())
end

function Outbox:start()
  if self.task then return self end
  self.task = rec.spawn(function()
    while not self.stopped do
      self.wake:clear()  -- an alert queued during this pass sets it again
      local ok, err = pcall(self.drain, self)
      if not ok then rec.log.error("outbox: delivery pass failed: %s", tostring(err)) end
      if self.stopped then break end
      if rec.now() >= (self.next_prune or 0) then   -- delivered alerts are kept a week
        self.next_prune = rec.now() + 3600
        pcall(self.db.prune, self.db, self.keep or 7 * 86400)
      end
      local _, werr = self.wake:wait(self.every)
      if werr and werr.kind == "cancelled" then break end  -- the engine is stopping
    end
  end)
  return self
end

-- Number of alerts not delivered yet (for every sender).
function Outbox:pending() return (self.db:counts()) end

-- Waits until every queued alert is delivered or `timeout` seconds passed (default 30).
-- Returns true when nothing is pending.
function Outbox:flush(timeout)
  local deadline = rec.now() + (timeout or 30)
  while self:pending() > 0 and rec.now() < deadline do
    if self.stopped then self:drain() end
    if not rec.sleep(math.min(0.2, self.every)) then break end  -- cancelled
  end
  return self:pending() == 0
end

-- Stops the deliverer (after its current send). Queued alerts stay in the database.
function Outbox:stop()
  self.stopped = true
  self.wake:set()
end

return notify

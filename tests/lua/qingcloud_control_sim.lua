-- The QingCloud control calls (lcontrol_qingcloud.c, qingcloud_ctl.c) against the
-- simulator (sim_control.c), end to end on the virtual clock: start, the task in the
-- listing (rec.qingcloud.query), stop (the channel's recording, no task id), the documented
-- retries of a 5xx, a dropped start not retried, a hand-signed request refused once tampered
-- with or unsigned, checks before sending, and sign_key in no error.
local KEY = "SIGNKEYqcctl-0042"
local base = { app_id = "demo-app", project_id = "proj-1", channel = "room-a" }
local function with(t) local o = {} for k, v in pairs(base) do o[k] = v end for k, v in pairs(t or {}) do o[k] = v end return o end
local function clean(err)
  local s = tostring(err and err.message) .. tostring(err)
  assert(not s:find(KEY, 1, true), "sign_key in an error: " .. s)
  return err
end
local function tasks(ch)
  local q, e = rec.qingcloud.query{ app_id = "demo-app", channel = ch or "room-a" }
  assert(q and q.outcome == "ok", tostring(e))
  local by = {}
  for _, t in ipairs(q.recinfos) do by[t.id] = t end
  return by, q
end

assert(rec.features.qingcloud_control == true)
-- start: a task id, and the task in the listing, recording after a second
local s, e = rec.qingcloud.start(with{ sign_key = KEY, is_mixing_enabled = 1, mixed_video_audio = 2 })
assert(s and s.code == "success" and math.type(s.task_id) == "integer" and s.started == true, tostring(e))
assert(s.outcome == "ok" and s.http_status == 200)
rec.sleep(2)
local by = tasks()
assert(by[s.task_id] and by[s.task_id].status == 2 and by[s.task_id].status_name == "Recording",
       "the started task records: " .. rec.json.encode(by[s.task_id] or {}))
assert(by[s.task_id].is_mix == 1, "is_mixing_enabled reached the service")

-- stop takes no task id: it stops the channel's recording
local bad, be = rec.qingcloud.stop(with{ task_id = s.task_id })
assert(not bad and be.kind == "invalid_argument" and be.message:find("no task id"), tostring(be))
local st, e2 = rec.qingcloud.stop(with())
assert(st and st.stopped == true and st.code == "success" and st.data == "success", tostring(e2))
rec.sleep(0.5)
assert(tasks()[s.task_id].status == 4, "Stopping")
rec.sleep(2)
assert(tasks()[s.task_id].status == 8, "PushingToQingstor: the upload lags")

-- checks before anything is sent: typed, naming the field, never the key
for _, case in ipairs{
  { with{ sign_key = "" }, "sign_key" },
  { with{ sign_key = KEY, isAudioOnly = 1, isVideoOnly = 1 }, "isAudioOnly and isVideoOnly" },
  { with{ sign_key = KEY, layout_mode = 3 }, "layout_mode" },
  { with{ sign_key = KEY, stream_type = 0.5 }, "stream_type" },
  { with{ sign_key = KEY, channel = 7 }, "channel" },
  { with{ sign_key = KEY, project_id = "" }, "project_id" },
  { with{ sign_key = KEY, isAudioOnlyy = 1 }, "isAudioOnlyy" },
} do
  local r, ce = rec.qingcloud.start(case[1])
  assert(not r and ce.kind == "invalid_argument" and ce.message:find(case[2], 1, true),
         case[2] .. ": " .. tostring(ce))
  clean(ce)
end
local r0, e0 = rec.qingcloud.start("room-a")
assert(not r0 and e0.kind == "invalid_argument")

-- the service refuses (nobody in the channel): 400, not retried, no key in the message
local t0 = rec.now()
local r1, e1 = rec.qingcloud.start(with{ channel = "nobody", sign_key = KEY })
assert(not r1 and e1.kind == "invalid_argument" and e1.status == 400 and e1.attempts == 1, tostring(e1))
assert(rec.now() - t0 < 1, "a 400 is not retried")
clean(e1)

-- a 5xx start: the control table, 3, 6 and 9 s (jitter only adds), then the error
rec.sleep(100 - rec.now() + 0.5)
t0 = rec.now()
local r2, e3 = rec.qingcloud.start(with{ channel = "room-b", sign_key = KEY })
local waited = rec.now() - t0
assert(not r2 and e3.kind == "server" and e3.attempts == 4, tostring(e3))
assert(waited >= 18 and waited < 18 * 1.2 + 1, "3 + 6 + 9 s of backoff, got " .. waited)
clean(e3)
assert(next((tasks("room-b"))) == nil, "a refused start started nothing")

-- a start whose answer was lost is not sent again (QingCloud has no duplicate answer)
rec.sleep(200 - rec.now() + 0.5)
local r3, e4 = rec.qingcloud.start(with{ channel = "room-c", sign_key = KEY })
assert(not r3 and e4.attempts == 1 and e4.message:find("not retried", 1, true), tostring(e4))
clean(e4)

-- a 5xx stop is retried (stop is per channel: repeating it is harmless)
rec.sleep(210 - rec.now())
local s5 = assert(rec.qingcloud.start(with{ channel = "room-d", sign_key = KEY }))
rec.sleep(300 - rec.now() + 0.5)
t0 = rec.now()
local st2, e5 = rec.qingcloud.stop(with{ channel = "room-d" })
assert(st2 and st2.stopped, "the stop after a 500: " .. tostring(e5))
assert(rec.now() - t0 >= 3, "the stop waited for its retry")
local status = tasks("room-d")[s5.task_id].status
assert(status == 4 or status == 8, "stopped after the retry: " .. status)

-- the simulator checks what recwatch signs: a hand-signed start passes, the same request
-- with its body changed after signing, or without a signature, is refused
local enc = rec.crypto.urlencode
local function signed(method, body, tamper, unsigned)
  local params = { access_key_id = "QCCTLACCESSKEY", signature_method = "HmacSHA256", signature_version = "1",
                   time_stamp = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(rec.time())) }
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = enc(k) .. "=" .. enc(params[k]) end
  local canonical = table.concat(parts, "&")
  local sts = method .. "\n/v1/cloudRecord/\n" .. canonical .. "\n" .. rec.crypto.md5_hex(body)
  local sig = rec.crypto.base64(rec.crypto.hmac_sha256("qcctl-secret-0123", sts))
  return assert(rec.http{ method = method, url = rec.sim.base_url .. "/v1/cloudRecord?" .. canonical ..
                          (unsigned and "" or "&signature=" .. enc(sig)),
                          headers = { ["Content-Type"] = "application/json" },
                          body = tamper and body:gsub("room%-e", "room-f") or body })
end
local body = rec.json.encode{ app_id = "demo-app", project_id = "proj-1", channel = "room-e", sign_key = "k" }
assert(signed("POST", body, true).status == 401, "a body changed after signing is refused")
assert(signed("POST", body, false, true).status == 401, "an unsigned request is refused")
assert(next((tasks("room-e"))) == nil and next((tasks("room-f"))) == nil, "refused starts started nothing")
assert(signed("POST", body).status == 200, "the same request as signed passes")
assert(signed("PATCH", rec.json.encode{ app_id = "demo-app", project_id = "proj-1", channel = "room-e" }).status == 200)
print("qingcloud_control_sim ok")

-- Fault matrix for tests/sh/provider_faults.sh: one Agora recording per fault, selected by
-- its sid (`match`), so each query of the test meets exactly one kind of fault; QingCloud
-- faults are selected by request number (the test makes its QingCloud queries in order).
local function rec_for(sid)
  return { appid = "pf-app", resourceid = "pf-rid", sid = sid, mode = "mix", status = 5 }
end
local sids = { "ok", "html500", "once206", "once504", "drop", "once-drop", "malformed",
               "truncated", "huge", "slow", "once429", "always504" }
local recordings = {}
for i, sid in ipairs(sids) do recordings[i] = rec_for(sid) end

return {
  agora = { customer_id = "pf-customer", customer_secret = "pf-secret-0123456789",
            rate_limit = 0 },
  qingcloud = { access_key_id = "PFQCKEY", secret_access_key = "pf-qc-secret-0123456789" },
  agora_recordings = recordings,
  qingcloud_tasks = {
    { app_id = "pf-app", channel = "pf-channel", id = 7, status = 2 },
  },
  faults = {
    { provider = "agora", kind = "500_html", match = "/sid/html500/" },
    { provider = "agora", kind = "agora_206", match = "/sid/once206/", times = 1 },
    { provider = "agora", kind = "agora_504", match = "/sid/once504/", times = 1 },
    { provider = "agora", kind = "agora_504", match = "/sid/always504/" },
    { provider = "agora", kind = "drop", match = "/sid/drop/" },
    { provider = "agora", kind = "drop", match = "/sid/once-drop/", times = 1 },
    { provider = "agora", kind = "malformed_json", match = "/sid/malformed/" },
    { provider = "agora", kind = "truncated", match = "/sid/truncated/" },
    { provider = "agora", kind = "huge", match = "/sid/huge/" },           -- 20 MiB > 8 MiB cap
    { provider = "agora", kind = "delay", ms = 1500, match = "/sid/slow/" },
    { provider = "agora", kind = "429", match = "/sid/once429/", times = 1 },
    -- QingCloud: requests 1-3 500 (html), 4 malformed JSON, 5 a 429, 6 truncated, then fine
    { provider = "qingcloud", kind = "500_html", nth = { 1, 2, 3 } },
    { provider = "qingcloud", kind = "malformed_json", nth = 4 },
    { provider = "qingcloud", kind = "429", nth = 5 },
    { provider = "qingcloud", kind = "truncated", nth = 6 },
  },
}

-- watch_agora_ha: Agora's high-availability window. Every recording records (status 5) all
-- along; agora_404 faults play the failovers, during which the live recording answers 404.
local function ha(sid, from, seconds)
  return { provider = "agora", kind = "agora_404", match = "/sid/" .. sid .. "/", after = from, seconds = seconds }
end
return {
  agora_recordings = {
    { appid = "ha-app", resourceid = "r-ha", sid = "sid-ha", status = 5 },          -- issue 20's repro
    { appid = "ha-app", resourceid = "r-gone", sid = "sid-gone", status = 5, gone_at = 8 },  -- a real end
    { appid = "ha-app", resourceid = "r-multi", sid = "sid-multi", status = 5, gone_at = 500 },
    { appid = "ha-app", resourceid = "r-gap", sid = "sid-gap", status = 5 },       -- two failovers, an outage between
  },
  faults = {
    ha("sid-ha", 8, 45),                     -- 404 from t=8 s to t=53 s
    ha("sid-multi", 20, 60), ha("sid-multi", 150, 80), ha("sid-multi", 300, 85),  -- 3 failovers
    -- a failover, 180 s of 5xx (nothing known), another failover: never one 404 of 190 s
    ha("sid-gap", 8, 10),
    { provider = "agora", kind = "500_html", match = "/sid/sid-gap/", after = 18, seconds = 180 },
    ha("sid-gap", 198, 30),
  },
}

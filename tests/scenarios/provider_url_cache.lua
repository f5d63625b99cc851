-- provider_url_cache: one unlimited Agora customer, 16 recordings (sid-0 .. sid-15) in mix
-- mode with a json fileList naming the sid.
local recs = {}
for i = 0, 15 do
  recs[#recs + 1] = { appid = "url-app", resourceid = "res-" .. i, sid = "sid-" .. i,
                      mode = "mix", fileListMode = "json", channel = "ch" .. i,
                      timeline = { { 0, 5 } } }
end
return {
  agora = { rate_limit = 0 },
  agora_recordings = recs,
}

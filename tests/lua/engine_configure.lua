-- rec.configure rejects every bad setting with a message naming it, and accepts good ones.
local function rejects(cfg, phrase)
  local ok, err = pcall(rec.configure, cfg)
  assert(not ok, "accepted: " .. phrase)
  assert(err:find("rec.configure: ", 1, true) and err:find(phrase, 1, true), err)
end
rejects({ agroa = {} }, "unknown setting 'agroa'")
rejects({ agora = { rate = "fast" } }, "agora.rate must be a number")
rejects({ agora = { rate = -1 } }, "agora.rate must be >= 0")
rejects({ agora = { timeout = 0 } }, "agora.timeout must be")
rejects({ agora = { retries = 1.5 } }, "agora.retries must be a whole number")
rejects({ agora = { retry_delays = {} } }, "agora.retry_delays needs 1 to 8 delays")
rejects({ agora = { retry_delays = { 1, "x" } } }, "agora.retry_delays[2] must be")
rejects({ agora = { retry_delays = { 1, -2 } } }, "agora.retry_delays[2] must be")
rejects({ agora = { base_url = "ftp://x" } }, "agora.base_url must start with http")
rejects({ agora = { fallback_urls = { "https://b" } } }, "agora.fallback_urls needs a base_url")
rejects({ agora = { base_url = "https://a", fallback_urls = { "https://b", 7 } } },
        "agora.fallback_urls[2] must be an http:// or https:// URL")
rejects({ agora = { base_url = "https://a", fallback_urls = "https://b" } }, "must be a list")
local many = {}
for i = 1, 17 do many[i] = "https://h" .. i end
rejects({ agora = { base_url = "https://a", fallback_urls = many } }, "has 17 entries; at most 16")
rejects({ qingcloud = { fallback_urls = { "https://b" } } }, "unknown setting 'fallback_urls' in qingcloud")
rejects({ http = { max_reply = 0 } }, "http.max_reply must be at least 1024")
rejects({ http = { max_connections = 0 } }, "http.max_connections must be 1..10000")
rejects({ log_level = "loud" }, "log_level must be")
rejects({ max_busy = -1 }, "max_busy must be a number of seconds >= 0")
rejects({ agora = "x" }, "agora must be a table, got string")
rejects({ http = true }, "http must be a table, got boolean")
rejects({ agora = { customer_id = {} } }, "agora.customer_id must be a string, got table")
rejects({ http = { ca_file = true } }, "http.ca_file must be a string, got boolean")

assert(rec.configure{ agora = { rate = 5, timeout = 3, retries = 0, retry_delays = { 0.1 },
                                base_url = "https://a.example", fallback_urls = { "https://b.example" } },
                      qingcloud = { rate = 0 }, http = { max_reply = 1024 * 1024 } })
print("engine_configure ok")

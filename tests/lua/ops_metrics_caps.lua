-- Issue 20 item 6: the registry caps reach the script as errors, and the page as counts.
-- 1,000 script families fit, the 1,001st is refused; a label value over 256 bytes is
-- refused; each refusal is counted in recwatch_metrics_rejected_total{reason}; what was
-- registered before keeps working.
local fams = {}
for i = 1, 1000 do
  fams[i] = rec.metrics.gauge("capfam_" .. i, "A family.", { "k" })
end
local ok, err = pcall(rec.metrics.gauge, "capfam_1001", "One too many.", { "k" })
assert(not ok, "the 1,001st script family was accepted")
assert(tostring(err):find("more than 1000 script metric families", 1, true), tostring(err))
-- the same definition again is the same family, not a new one
assert(rec.metrics.gauge("capfam_7", "A family.", { "k" }))

fams[1]:set(1, { k = string.rep("v", 256) })
ok, err = pcall(fams[1].set, fams[1], 2, { k = string.rep("v", 257) })
assert(not ok, "a 257-byte label value was accepted")
assert(tostring(err):find("longer than 256 bytes", 1, true), tostring(err))
fams[2]:set(5, { k = "still works" })

local page = rec.metrics.text()
assert(page:find('recwatch_metrics_rejected_total{reason="families"} 1\n', 1, true), "families refusal not counted")
assert(page:find('recwatch_metrics_rejected_total{reason="label_value"} 1\n', 1, true), "label_value refusal not counted")
assert(page:find('capfam_2{k="still works"} 5\n', 1, true), "an older family stopped working")
assert(page:find("\nrecwatch_metrics_page_families_dropped 0\n", 1, true), "the page is not whole")
print("ops_metrics_caps ok")

#!/usr/bin/env bash
# run.sh BUILD_DIR NAME SECONDS [libFuzzer options...]: runs one harness of tests/fuzz for
# SECONDS on its working corpus (BUILD_DIR/fuzz/NAME/corpus, kept between runs), seeded
# from tests/fixtures/ and tests/fuzz/corpus/NAME/ (crashes found earlier, kept for ever).
# A crash is written to BUILD_DIR/fuzz/NAME/ and makes the script fail.
set -euo pipefail
build=$(cd "$1" && pwd) name=$2 secs=$3
shift 3
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=$build/tests/fuzz/fuzz_$name
[ -x "$bin" ] || { echo "no $bin: configure with -DRECWATCH_FUZZ=ON (clang)" >&2; exit 2; }
work=$(mkdir -p "$build/fuzz/$name" && cd "$build/fuzz/$name" && pwd)
seeds=$work/seeds
mkdir -p "$work/corpus" "$seeds"
rm -f "$seeds"/*
fix=$src/tests/fixtures
case $name in
  reply)  # byte 0: provider (bit 0) and status (bits 1..4, see fuzz_reply.c)
    for f in "$fix"/*_*_*; do
      b=$(basename "$f"); p=0; case $b in agora_*) p=1;; esac
      st=${b#*_}; st=${st%%_*}
      case $st in 200) i=0;; 206) i=4;; 400) i=5;; 401) i=6;; 404) i=8;; 429) i=9;;
                  500) i=10;; 502) i=11;; 504) i=13;; *) i=0;; esac
      for m in 0 2; do
        { printf "$(printf '\\%03o' $((p | i << 1 | m << 5)))"; cat "$f"; } > "$seeds/$b.$m"
      done
    done ;;
  redact)  # two secrets (a webhook URL, a signing secret), then a message
    url='https://hooks.example.com/services/T0AB12CD/B0EF34GH/xYz0123456789abcdefTOKEN?source=rw#frag'
    sec='SEC0123456789abcdef'
    for f in "$fix"/*.json "$fix"/*.html; do
      { printf '\002'; printf "$(printf '\\%03o' ${#url})"; printf '%s' "$url"
        printf "$(printf '\\%03o' ${#sec})"; printf '%s' "$sec"
        printf 'POST %s failed: {"url":"%s","sign":"%s"} ' "${url%%\?*}" "${url//\//\\/}" "$sec"
        head -c 600 "$f"; } > "$seeds/$(basename "$f")"
    done ;;
  http_check)  # url, appid, resourceid, sid, mode, app_id, channel (NUL-separated)
    printf 'https://user:pa55word@hooks.example.com/services/T0/B0/TOKEN?x=1#f\0app\0rid\0sid\0mix\0qcapp\0room 1' > "$seeds/a"
    printf 'http://h/..\0.\0..\0%%2e\0web\0a\0b' > "$seeds/b"
    printf 'h\0a/b\0r\r\nX: y\0s\0individual\0\0c' > "$seeds/c" ;;
  agora_ctl)  # byte 0: call (bits 0..2) and status (bits 3..6, see fuzz_agora_ctl.c)
    for f in "$fix"/agora_*; do
      b=$(basename "$f"); st=${b#agora_}; st=${st#ctl_}; st=${st%%_*}
      case $st in 200) i=0;; 201) i=3;; 206) i=4;; 400) i=5;; 401) i=6;; 404) i=8;; 429) i=9;;
                  500) i=10;; 502) i=11;; 504) i=13;; *) i=0;; esac
      for c in 0 1 2 3 4 5; do
        { printf "$(printf '\\%03o' $((c | i << 3)))"; cat "$f"; } > "$seeds/$b.$c"
      done
    done ;;
  sim_request)
    cp "$fix"/requests/*.http "$seeds/" ;;
  ncs)  # byte 0: 7 = both headers, right; 3 = both, wrong (then 64 bytes of header)
    v='{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f","notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}'
    e='{"noticeId":"n-1","productId":3,"eventType":11,"notifyMs":1,"payload":{"cname":"c","uid":"7","sid":"s","sequence":2,"sendts":3,"serviceType":0,"details":{"msgName":"session_exit","exitStatus":1}}}'
    { printf '\007'; printf '%s' "$v"; } > "$seeds/vector"
    { printf '\005'; printf '%s' "$e"; } > "$seeds/exit"
    { printf '\003'; printf '%064d' 0; printf '%s' "$v"; } > "$seeds/wrong" ;;
  scenario)
    cp "$src"/tests/scenarios/*.lua "$seeds/"
    cp "$src"/bench/scenario.lua "$seeds/bench_scenario.lua" ;;
  *) echo "unknown harness $name" >&2; exit 2 ;;
esac
extra=()
[ -d "$src/tests/fuzz/corpus/$name" ] && extra+=("$src/tests/fuzz/corpus/$name")
dict=()
[ -f "$src/tests/fuzz/$name.dict" ] && dict=(-dict="$src/tests/fuzz/$name.dict")
# a scenario may legitimately run up to its caps (50 M instructions, 256 MiB) before it
# is refused: slow under ASan on a busy machine, but bounded
tmo=10 rss=2048
[ "$name" = scenario ] && tmo=40 rss=4096  # ASan keeps freed Lua states in quarantine
cd "$work"
exec "$bin" -max_total_time="$secs" -timeout=$tmo -rss_limit_mb=$rss -print_final_stats=1 \
  -artifact_prefix="$work/" "${dict[@]}" "$@" "$work/corpus" "$seeds" "${extra[@]}"

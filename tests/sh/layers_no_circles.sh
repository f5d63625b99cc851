# layers_no_circles (issue 19): no circle among the files of src/ in the call graph. Every
# undefined symbol of an object of libreccore.a that another object defines is an edge
# file -> file; peeling off, again and again, the files that use no file still left must
# leave nothing. Also: no .c file of src/ declares a function of another file with `extern`
# (shared names live in headers).
set -eu
: "${RECWATCH:?}" "${SRC:?}"
LIB=$(dirname "$RECWATCH")/libreccore.a
command -v nm >/dev/null || { echo "SKIP: no nm"; exit 77; }
[ -f "$LIB" ] || { echo "FAIL: no $LIB" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# "member symbol kind" lines: nm -A prints "lib.a:member.o:  ... KIND name"
nm -A "$LIB" 2>/dev/null | awk '
  { split($1, p, ":"); m = p[2]; sub(/\.o$/, "", m)
    if (NF == 3 && $2 ~ /^[TDBRCGSVW]$/) def[$3] = m
    if (NF == 3 && $2 == "U") { nu++; um[nu] = m; us[nu] = $3 } }
  END {
    for (i = 1; i <= nu; i++) {
      d = def[us[i]]
      if (d != "" && d != um[i] && !((um[i], d) in e)) { e[um[i], d] = us[i]; out[um[i]]++ }
      node[um[i]] = 1; if (d != "") node[d] = 1
    }
    n = 0; for (v in node) n++
    if (n < 10) { print "FAIL: only " n " files seen in the library"; exit 1 }
    do {   # peel the files whose every edge goes to a file already peeled
      changed = 0
      for (v in node) if (!(v in gone)) {
        left = 0
        for (k in e) { split(k, ab, SUBSEP); if (ab[1] == v && !(ab[2] in gone)) left++ }
        if (!left) { gone[v] = 1; changed = 1 }
      }
    } while (changed)
    bad = 0
    for (k in e) { split(k, ab, SUBSEP)
      if (!(ab[1] in gone) && !(ab[2] in gone)) { print "not layered (in a circle, or above one): " ab[1] " -> " ab[2] " (" e[k] ")"; bad = 1 } }
    exit bad
  }' >"${TMPDIR:-/tmp}/layers.$$" || { cat "${TMPDIR:-/tmp}/layers.$$" >&2; rm -f "${TMPDIR:-/tmp}/layers.$$"; fail "a circle among the files of src/"; }
rm -f "${TMPDIR:-/tmp}/layers.$$"

if grep -nE '^[[:space:]]*extern[[:space:]]' "$SRC"/src/*.c "$SRC"/src/sim/*.c; then
  fail "a .c file declares another file's name with extern: move it to that file's header"
fi
echo "ok: no circle among the files of src/"

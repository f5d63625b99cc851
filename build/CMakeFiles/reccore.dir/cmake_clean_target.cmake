file(REMOVE_RECURSE
  "libreccore.a"
)

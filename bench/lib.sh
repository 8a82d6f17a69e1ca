# Shared by the benchmark scripts (sourced, not run): a free local port and the
# embedded cluster's postmaster.

# Prints a port on 127.0.0.1 that nothing listens on; fails after 50 tries.
free_port() {
  local candidate
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# The embedded cluster's postmaster pid, from the data directory in $DATA_DIR.
postmaster_pid() {
  head -n 1 "$DATA_DIR/postgres/data/postmaster.pid" 2>/dev/null || true
}

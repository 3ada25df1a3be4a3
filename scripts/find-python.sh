#!/usr/bin/env bash
# Prints the path of a Python 3.12 interpreter (the Lambda runtime's version).
# pyenv's python3.12 shim refuses to run unless 3.12 is selected, so each
# candidate is asked for its version rather than trusted by name.
set -u
candidates=("${PYTHON:-}" python3.12)
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for dir in "$root"/versions/3.12*/bin; do candidates+=("$dir/python3.12"); done
fi
candidates+=(/usr/bin/python3.12 /usr/local/bin/python3.12 python3)
for candidate in "${candidates[@]}"; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
echo "No Python 3.12 found; install it (e.g. pyenv install 3.12) or set PYTHON=" >&2
exit 1

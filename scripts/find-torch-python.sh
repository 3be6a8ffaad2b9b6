#!/usr/bin/env bash
# Prints the first interpreter that can `import torch` (KB_PYTHON, PATH, Debian's).
set -u
candidates=()
[ -n "${KB_PYTHON:-}" ] && IFS=: read -r -a candidates <<<"$KB_PYTHON"
candidates+=(python3 python /usr/bin/python3)
for py in "${candidates[@]}"; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c "import torch" >/dev/null 2>&1; then
    command -v "$py"
    exit 0
  fi
done
echo "no Python interpreter with torch found (install python3-torch)" >&2
exit 1

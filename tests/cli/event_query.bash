# Shared by the bats suites that read kb's event streams (`load event_query`).

# Evaluates a Python expression over the events of file $1 (bound to
# `events`, a list of dicts) and prints the result.
events() {
  python3 -c '
import json, sys
events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(eval(sys.argv[2]))' "$1" "$2"
}

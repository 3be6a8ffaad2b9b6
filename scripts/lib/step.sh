# shellcheck shell=bash
# Shared by the install scripts (scripts/install-deps.sh, scripts/setup-*.sh):
# one line on the terminal per install step, the tools' own output in a log.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/step.sh"
#   run_step [--log STEM] NAME DESCRIPTION -- COMMAND [ARGS...]
#
# Prints "NAME: DESCRIPTION ... " to stderr and runs COMMAND (a program or a
# shell function of the calling script) in a subshell with `set -e -o
# pipefail`, stdin from /dev/null, stdout and stderr into the log file
# ${KB_LOG_DIR:-$HOME/.cache/kb/logs}/STEM.log (STEM defaults to NAME; the
# file is overwritten on every run). Then it completes the line with
# "done (N s)". When COMMAND fails it completes the line with
# "FAILED (exit N; see LOG)", prints the last ${KB_LOG_TAIL:-80} lines of the
# log to stderr and returns COMMAND's exit status, so that a script running
# under `set -e` stops with that status.
#
# Environment:
#   KB_VERBOSE=1   stream COMMAND's output to the terminal as it comes
#                  (stdin, stdout and stderr untouched, no log), for debugging
#   KB_LOG_DIR     where the logs go (default $HOME/.cache/kb/logs)
#   KB_LOG_TAIL    how many lines of the log a failure shows (default 80)
#
# Call run_step as a plain statement when COMMAND is a shell function: bash
# ignores `set -e` in every function called from `if`, `while`, `!`, `&&` or
# `||` (even in a subshell that sets -e again), so a failing command inside the
# step would not stop it. run_step refuses that case (status 2); it is fine for
# a program (`run_step ... -- apt-get ... || die ...`).

# The start every setup-*.sh script shares: `kb_setup_start NAME "$@"`
# parses its arguments (--check sets check_only=true; -h/--help prints the
# script's header comment; anything else is a usage error, exit 2) and
# defines log and die, which prefix NAME.
kb_setup_start() {
  KB_SETUP_NAME="$1"
  shift
  check_only=false
  local arg
  for arg in "$@"; do
    case "$arg" in
      --check) check_only=true ;;
      -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
      *) echo "$KB_SETUP_NAME: unknown argument: $arg" >&2; exit 2 ;;
    esac
  done
}
log() { echo "${KB_SETUP_NAME:-setup}: $*" >&2; }
die() { log "error: $*"; exit 1; }

kb_step_verbose() {
  case "${KB_VERBOSE:-}" in
    ""|0|false|no|off) return 1 ;;
    *) return 0 ;;
  esac
}

run_step() {
  local stem=""
  if [ "${1:-}" = "--log" ] && [ $# -ge 2 ]; then
    stem="$2"
    shift 2
  fi
  if [ $# -lt 4 ] || [ "$3" != "--" ]; then
    echo "run_step: usage: run_step [--log STEM] NAME DESCRIPTION -- COMMAND [ARGS...]" >&2
    return 2
  fi
  local name="$1" desc="$2"
  shift 3
  stem="${stem:-$name}"

  # A subshell that sets -e and fails prints nothing, unless bash is ignoring
  # -e here (run_step called from a condition): then it reaches the echo.
  local ignoring_errexit
  ignoring_errexit="$( (set -e; false; echo yes); true )"
  if [ -n "$ignoring_errexit" ] && [ "$(type -t "$1")" = function ]; then
    echo "run_step: $name: shell function $1 run from a condition (if, while, !, &&, ||), where bash ignores set -e; call run_step as a plain statement" >&2
    return 2
  fi

  # Restored after the step: the step runs with errexit off in this shell so
  # that its status can be collected without making the call a condition.
  local errexit_was_on=false rc=0 start=$SECONDS
  case $- in *e*) errexit_was_on=true ;; esac

  if kb_step_verbose; then
    printf '%s: %s ... (KB_VERBOSE: output follows, no log)\n' "$name" "$desc" >&2
    set +e
    ( set -e -o pipefail; "$@" )
    rc=$?
    if $errexit_was_on; then set -e; fi
    if [ "$rc" -eq 0 ]; then
      printf '%s: %s ... done (%d s)\n' "$name" "$desc" "$((SECONDS - start))" >&2
    else
      printf '%s: %s ... FAILED (exit %d)\n' "$name" "$desc" "$rc" >&2
    fi
    return "$rc"
  fi

  local dir="${KB_LOG_DIR:-${HOME:-/tmp}/.cache/kb/logs}" log
  mkdir -p "$dir" 2>/dev/null || dir="${TMPDIR:-/tmp}"
  log="$dir/$stem.log"
  if ! { printf '# %s: %s\n# command: %s\n# started: %s\n' "$name" "$desc" "$*" "$(date '+%F %T %z')" >"$log"; } 2>/dev/null; then
    log="$(mktemp "${TMPDIR:-/tmp}/kb-$stem.XXXXXX")" || return 1
    printf '# %s: %s\n# command: %s\n# started: %s\n' "$name" "$desc" "$*" "$(date '+%F %T %z')" >"$log"
  fi

  printf '%s: %s ... ' "$name" "$desc" >&2
  set +e
  # The outer redirection also catches bash's own "Terminated"-style report.
  { ( set -e -o pipefail; "$@" ) </dev/null >>"$log" 2>&1; } 2>>"$log"
  rc=$?
  if $errexit_was_on; then set -e; fi
  local seconds=$((SECONDS - start))
  printf '# finished: exit %d after %d s\n' "$rc" "$seconds" >>"$log" 2>/dev/null || true

  if [ "$rc" -eq 0 ]; then
    printf 'done (%d s)\n' "$seconds" >&2
    return 0
  fi
  local lines="${KB_LOG_TAIL:-80}"
  {
    printf 'FAILED (exit %d; see %s)\n' "$rc" "$log"
    printf -- '----- last %s lines of %s -----\n' "$lines" "$log"
    tail -n "$lines" "$log"
    printf -- '----- end of %s -----\n' "$log"
  } >&2
  return "$rc"
}

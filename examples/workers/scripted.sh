#!/bin/sh
# A scripted worker: acts like a coding agent by calling the orchestratia CLI, so the whole
# system runs with no LLM (tests and the demo). Configure a daemon with
#   agent_command: sh /path/to/examples/workers/scripted.sh
#
# It follows the lines of its task's spec that start with "worker:", in order:
#   worker: say TEXT            print TEXT
#   worker: sleep SECONDS       wait
#   worker: ticks N             print "tick 1".."tick N", one every half second
#   worker: help QUESTION       ask a human (blocks), print the answer and note it on the task
#   worker: plan TEXT           submit TEXT as the plan until it is approved (a rejection's
#                               feedback is added to the next version)
#   worker: input KEY           print the input KEY received from upstream and note it
#   worker: permission COMMAND  ask to run COMMAND as Claude Code would, through
#                               `orchestratia hook claude-code` (blocks for allow / deny)
#   worker: contract KEY=JSON   publish this contract on completion
#   worker: fail REASON         report the task failed, and stop
#   worker: exit CODE           exit without reporting (the hub fails the task with the screen)
# Then it completes the task. A spec without such lines just completes.
set -u

work=$(mktemp -d "${TMPDIR:-/tmp}/orc-worker.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
echo "scripted worker in $ORCHESTRATIA_SESSION: $(head -n 1 "$ORCHESTRATIA_PROMPT_FILE")"

grep '^worker:' "$ORCHESTRATIA_PROMPT_FILE" | sed 's/^worker:[[:space:]]*//' > "$work/steps"
: > "$work/contracts"

while IFS= read -r step; do
    cmd=${step%% *}
    arg=${step#"$cmd"}
    arg=${arg# }
    case $cmd in
        say)
            echo "$arg" ;;
        sleep)
            sleep "$arg" ;;
        ticks)
            i=1
            while [ "$i" -le "$arg" ]; do
                echo "tick $i"
                sleep 0.5
                i=$((i + 1))
            done ;;
        help)
            echo "asking: $arg"
            answer=$(orchestratia task help --question "$arg") || { echo "no answer"; exit 1; }
            echo "answer: $answer"
            orchestratia task note "answer: $answer" >/dev/null ;;
        plan)
            printf '%s\n' "$arg" > "$work/plan"
            while :; do
                verdict=$(orchestratia task plan submit --file "$work/plan") || exit 1
                echo "plan: $verdict"
                case $verdict in
                    approved) break ;;
                    rejected:*) printf 'revised after: %s\n' "${verdict#rejected: }" >> "$work/plan" ;;
                    *) exit 1 ;;
                esac
            done ;;
        input)
            value=$(orchestratia task inputs "$arg") || exit 1
            echo "input $arg: $value"
            orchestratia task note "input $arg: $(printf '%s' "$value" | tr -d '\n')" >/dev/null ;;
        permission)
            esc=$(printf '%s' "$arg" | sed 's/\\/\\\\/g; s/"/\\"/g')
            printf '{"session_id":"scripted","cwd":"%s","hook_event_name":"PermissionRequest","tool_name":"Bash","tool_input":{"command":"%s"}}\n' \
                "$PWD" "$esc" > "$work/hook.json"
            echo "asking permission to run: $arg"
            decision=$(orchestratia hook claude-code < "$work/hook.json")
            case $decision in
                *'"allow"'*) echo "permission allowed: $arg" ;;
                *) echo "permission denied: $arg ($decision)"
                   orchestratia task fail --reason "permission denied: $arg" >/dev/null
                   exit 0 ;;
            esac ;;
        contract)
            printf '%s\n' "$arg" >> "$work/contracts" ;;
        fail)
            orchestratia task fail --reason "$arg" >/dev/null
            echo "failed: $arg"
            exit 0 ;;
        exit)
            echo "exiting with $arg"
            exit "$arg" ;;
        *)
            echo "unknown step: $step" ;;
    esac
done < "$work/steps"

set --
while IFS= read -r c; do
    set -- "$@" --contract "$c"
done < "$work/contracts"
orchestratia task complete --summary "done by the scripted worker" "$@" || exit 1
echo "completed"

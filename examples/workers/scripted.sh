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
#   worker: edit FILE TEXT      append the line TEXT to FILE (its directories made), in the
#                               working dir: the task's git worktree when it has one
#   worker: commit MESSAGE      `git add -A` and commit (author and committer from GIT_AUTHOR_*
#                               / GIT_COMMITTER_*, else "Scripted Worker <worker@localhost>")
#   worker: await-review        read the terminal until a review comment arrives (a line
#                               starting "review:"), print it as "review comment: …" and note
#                               it on the task; one comment per step
#   worker: fail REASON         report the task failed, and stop
#   worker: exit CODE           exit without reporting (the hub fails the task with the screen)
# Then it completes the task. A spec without such lines just completes.
# Review comments in its prompt (a retried task's "review:" lines) are printed as
# "review comment: …" and noted on the task before the steps run.
set -u

# The terminal, kept on fd 3: the steps loop reads its steps from a file on stdin.
exec 3<&0

# Prints a review comment ("review: FILE:LINE: TEXT") and notes it on the task.
review_comment() {
    echo "review comment: ${1#review:[[:space:]]}"
    orchestratia task note "$1" >/dev/null
}

work=$(mktemp -d "${TMPDIR:-/tmp}/orc-worker.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
echo "scripted worker in $ORCHESTRATIA_SESSION: $(head -n 1 "$ORCHESTRATIA_PROMPT_FILE")"

grep '^worker:' "$ORCHESTRATIA_PROMPT_FILE" | sed 's/^worker:[[:space:]]*//' > "$work/steps"
: > "$work/contracts"

grep '^review:' "$ORCHESTRATIA_PROMPT_FILE" > "$work/reviews"
while IFS= read -r line; do
    review_comment "$line"
done < "$work/reviews"

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
        edit)
            file=${arg%% *}
            text=${arg#"$file"}
            text=${text# }
            mkdir -p "$(dirname "$file")" || exit 1
            printf '%s\n' "$text" >> "$file" || exit 1
            echo "edited $file" ;;
        commit)
            GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-Scripted Worker} \
            GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-worker@localhost} \
            GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-Scripted Worker} \
            GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-worker@localhost} \
                sh -c 'git add -A && git commit -q -m "$1"' commit "$arg" || exit 1
            echo "committed: $arg" ;;
        await-review)
            echo "awaiting review"
            got=
            while IFS= read -r line <&3; do
                case $line in
                    review:*) review_comment "$line"; got=1; break ;;
                esac
            done
            [ -n "$got" ] || { echo "the terminal closed before a review came"; exit 1; } ;;
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

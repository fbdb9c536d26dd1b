# bash completion for byok: byok completion bash > ~/.local/share/bash-completion/completions/byok
# Each TAB asks byok itself (no SDK is loaded); with no answer, bash completes file names.
_byok_completion() {
    local IFS=$'\n'
    COMPREPLY=( $(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD="$COMP_CWORD" \
                  _BYOK_COMPLETE=complete_bash "$1" 2>/dev/null) )
    return 0
}

complete -o default -F _byok_completion byok

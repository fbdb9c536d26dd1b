# bash completion for byok. Either, in ~/.bashrc:   source <(byok completion bash)
# or, with the bash-completion package: byok completion bash > ~/.local/share/bash-completion/completions/byok
# Needs nothing but bash itself. Each TAB asks byok (no SDK is loaded); with no answer, bash
# completes file names.
_byok_completion() {
    local IFS=$'\n'
    COMPREPLY=( $(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD="$COMP_CWORD" \
                  _BYOK_COMPLETE=complete_bash "$1" 2>/dev/null) )
    # `provider/` is the start of a model name: no space after it, so TAB goes on to the models
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -o default -F _byok_completion byok

# fish completion for byok: byok completion fish > ~/.config/fish/completions/byok.fish
# Each TAB asks byok itself (no SDK is loaded) for lines of "candidate<TAB>description";
# with no answer, fish completes file names.
function __byok_complete
    set -l found (env _BYOK_COMPLETE=complete_fish _TYPER_COMPLETE_ARGS=(commandline -cp) byok 2>/dev/null)
    if test (count $found) -gt 0
        printf '%s\n' $found
    else
        __fish_complete_path (commandline -ct)
    end
end

complete --command byok --no-files --arguments '(__byok_complete)'

# venvsel shell hook for zsh. Load it from ~/.zshrc:
#     eval "$(venvsel shell-hook zsh)"
# It defines a `venvsel` function: `venvsel activate ...` and `venvsel deactivate` change
# this shell (they evaluate the code venvsel prints); every other command runs the real
# venvsel. Without the hook: eval "$(venvsel activate ...)".
venvsel() {
    local __venvsel_arg __venvsel_code
    case "${1-}" in
        activate|deactivate)
            for __venvsel_arg in "$@"; do
                case "$__venvsel_arg" in
                    -h|--help|--json) command venvsel "$@"; return ;;
                esac
            done
            # Evaluate only complete output: venvsel prints nothing when it refuses.
            __venvsel_code="$(command venvsel "$@" --shell zsh)" || return
            eval "$__venvsel_code"
            ;;
        *)
            command venvsel "$@"
            ;;
    esac
}

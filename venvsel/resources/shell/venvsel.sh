# venvsel shell hook for POSIX sh (dash, ash, mksh). Load it from ~/.profile or $ENV:
#     eval "$(venvsel shell-hook sh)"
# It defines a `venvsel` function: `venvsel activate ...` and `venvsel deactivate` change
# this shell (they evaluate the code venvsel prints); every other command runs the real
# venvsel. `venvsel shell-hook` records where venvsel was loaded from ($_VENVSEL_EXE, or
# $_VENVSEL_PY), so switching to an env that does not hold venvsel never loses
# it. Without the hook: eval "$(venvsel activate ...)".
__venvsel_exe() {
    if [ -n "${_VENVSEL_EXE-}" ]; then
        "$_VENVSEL_EXE" "$@"
    elif [ -n "${_VENVSEL_PY-}" ]; then
        # -c, not -m venvsel: -m would put the current directory first on sys.path
        "$_VENVSEL_PY" -c 'import sys; sys.path and not sys.path[0] and sys.path.pop(0); from venvsel.cli import main; sys.exit(main())' "$@"
    else
        command venvsel "$@"
    fi
}
venvsel() {
    local __venvsel_arg __venvsel_code
    case "${1-}" in
        activate|deactivate)
            for __venvsel_arg in "$@"; do
                case "$__venvsel_arg" in
                    -h|--help|--json) __venvsel_exe "$@"; return ;;
                esac
            done
            # Evaluate only complete output: venvsel prints nothing when it refuses.
            __venvsel_code="$(__venvsel_exe "$@" --shell sh)" || return
            eval "$__venvsel_code"
            ;;
        *)
            __venvsel_exe "$@"
            ;;
    esac
}

# Auto-activation (`venvsel shell-hook bash --auto`): before each prompt, a project's env
# follows the current directory. When $PWD has not changed, or changed within the project
# found last time, this is two string comparisons in bash: no process starts. Otherwise
# `venvsel auto` runs once and says what to do. An env you activated yourself is never
# replaced; leaving the project restores exactly what was there before.
# venvsel's auto step, started without the CLI's imports (click) when the hook knows
# venvsel's Python; `venvsel auto` otherwise.
__venvsel_auto_run() {
    if [ -n "${_VENVSEL_PY-}" ]; then
        "$_VENVSEL_PY" -c 'import sys; sys.path and not sys.path[0] and sys.path.pop(0); from venvsel.auto import main; sys.exit(main())' "$@"
    else
        __venvsel_exe auto "$@"
    fi
}
__venvsel_auto() {
    local __venvsel_rc=$? __venvsel_code
    if [ "$PWD" = "${_VENVSEL_AUTO_PWD-}" ]; then
        return $__venvsel_rc
    fi
    _VENVSEL_AUTO_PWD=$PWD
    if [ -n "${_VENVSEL_AUTO_ROOT-}" ]; then
        case "$PWD/" in
            "$_VENVSEL_AUTO_ROOT"/*) return $__venvsel_rc ;;
        esac
    fi
    if __venvsel_code="$(__venvsel_auto_run --shell bash --active "${_VENVSEL_AUTO_ENV-}")"; then
        eval "$__venvsel_code"
    fi
    return $__venvsel_rc
}
case ";${PROMPT_COMMAND-};" in
    *";__venvsel_auto;"*) ;;
    *) PROMPT_COMMAND="__venvsel_auto${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
esac

# Auto-activation (`venvsel shell-hook bash --auto`): before each prompt, a project's env
# follows the current directory. When $PWD has not changed, or changed within the project
# found last time, this is two string comparisons in bash: no process starts. Otherwise
# `venvsel auto` runs once and says what to do. An env you activated yourself is never
# replaced; leaving the project restores exactly what was there before.
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
    if __venvsel_code="$(__venvsel_exe auto --shell bash --active "${_VENVSEL_AUTO_ENV-}")"; then
        eval "$__venvsel_code"
    fi
    return $__venvsel_rc
}
case ";${PROMPT_COMMAND-};" in
    *";__venvsel_auto;"*) ;;
    *) PROMPT_COMMAND="__venvsel_auto${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
esac

# Auto-activation (`venvsel shell-hook fish --auto`): before each prompt, a project's env
# follows the current directory. When $PWD has not changed, or changed within the project
# found last time, this is a few builtin string tests: no process starts. Otherwise
# `venvsel auto` runs once and says what to do. An env you activated yourself is never
# replaced; leaving the project restores exactly what was there before.
function __venvsel_auto --on-event fish_prompt --description 'venvsel: the project env follows cd'
    if test "$PWD" = "$_VENVSEL_AUTO_PWD"
        return
    end
    set -g _VENVSEL_AUTO_PWD $PWD
    if test -n "$_VENVSEL_AUTO_ROOT"
        set -l venvsel_prefix "$_VENVSEL_AUTO_ROOT/"
        set -l venvsel_head (string sub -l (string length -- $venvsel_prefix) -- "$PWD/" | string collect)
        if test "$venvsel_head" = "$venvsel_prefix"
            return
        end
    end
    set -l venvsel_code (__venvsel_exe auto --shell fish --active "$_VENVSEL_AUTO_ENV" | string collect)
    if test "$pipestatus[1]" -eq 0
        printf '%s\n' $venvsel_code | source
    end
end

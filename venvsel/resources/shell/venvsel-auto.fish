# Auto-activation (`venvsel shell-hook fish --auto`): before each prompt, a project's env
# follows the current directory. When $PWD has not changed, or changed within the project
# found last time, this is a few builtin string tests: no process starts. Otherwise
# `venvsel auto` runs once and says what to do. An env you activated yourself is never
# replaced; leaving the project restores exactly what was there before.
# venvsel's auto step, started without the CLI's imports (click) when the hook knows
# venvsel's Python; `venvsel auto` otherwise.
function __venvsel_auto_run
    if set -q _VENVSEL_PY; and test -n "$_VENVSEL_PY"
        command $_VENVSEL_PY -c 'import sys; sys.path and not sys.path[0] and sys.path.pop(0); from venvsel.auto import main; sys.exit(main())' $argv
    else
        __venvsel_exe auto $argv
    end
end
function __venvsel_auto --on-event fish_prompt --description 'venvsel: the project env follows cd'
    if test "$PWD" = "$_VENVSEL_AUTO_PWD"
        return
    end
    set -g _VENVSEL_AUTO_PWD $PWD
    # inside the project found last time: one builtin match ($PWD/ starts with root/)
    if set -q _VENVSEL_AUTO_RE; and string match -qr -- $_VENVSEL_AUTO_RE "$PWD/"
        return
    end
    set -l venvsel_code (__venvsel_auto_run --shell fish --active "$_VENVSEL_AUTO_ENV" | string collect)
    if test "$pipestatus[1]" -eq 0
        printf '%s\n' $venvsel_code | source
    end
end

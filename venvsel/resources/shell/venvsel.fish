# venvsel shell hook for fish. Load it from ~/.config/fish/config.fish:
#     venvsel shell-hook fish | source          # --auto: a project's env follows `cd`
# It defines a `venvsel` function: `venvsel activate ...` and `venvsel deactivate` change
# this shell (they source the code venvsel prints); every other command runs the real
# venvsel. `venvsel shell-hook` records where venvsel was loaded from ($_VENVSEL_EXE, or
# $_VENVSEL_PY), so switching to an env that does not hold venvsel never loses
# it. Without the hook: venvsel activate --shell fish ... | source
function __venvsel_exe --description 'venvsel: the venvsel the hook was loaded from'
    if set -q _VENVSEL_EXE; and test -n "$_VENVSEL_EXE"
        command $_VENVSEL_EXE $argv
    else if set -q _VENVSEL_PY; and test -n "$_VENVSEL_PY"
        # -c, not -m venvsel: -m would put the current directory first on sys.path
        command $_VENVSEL_PY -c 'import sys; sys.path and not sys.path[0] and sys.path.pop(0); from venvsel.cli import main; sys.exit(main())' $argv
    else
        command venvsel $argv
    end
end
function venvsel --description 'venvsel: find, judge, pick and activate Python environments'
    if contains -- "$argv[1]" activate deactivate
        and not contains -- --help $argv
        and not contains -- -h $argv
        and not contains -- --json $argv
        set -l venvsel_code (__venvsel_exe $argv --shell fish | string collect)
        set -l venvsel_rc $pipestatus[1]
        # Source only complete output: venvsel prints nothing when it refuses.
        if test "$venvsel_rc" -ne 0
            return $venvsel_rc
        end
        printf '%s\n' $venvsel_code | source
    else
        __venvsel_exe $argv
    end
end

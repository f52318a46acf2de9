# venvsel shell hook for fish. Load it from ~/.config/fish/config.fish:
#     venvsel shell-hook fish | source
# It defines a `venvsel` function: `venvsel activate ...` and `venvsel deactivate` change
# this shell (they source the code venvsel prints); every other command runs the real
# venvsel. Without the hook: venvsel activate --shell fish ... | source
function venvsel --description 'venvsel: find, judge, pick and activate Python environments'
    if contains -- "$argv[1]" activate deactivate
        and not contains -- --help $argv
        and not contains -- -h $argv
        and not contains -- --json $argv
        set -l venvsel_code (command venvsel $argv --shell fish | string collect)
        set -l venvsel_rc $pipestatus[1]
        # Source only complete output: venvsel prints nothing when it refuses.
        if test "$venvsel_rc" -ne 0
            return $venvsel_rc
        end
        printf '%s\n' $venvsel_code | source
    else
        command venvsel $argv
    end
end

# venvsel shell hook for PowerShell (pwsh on any OS, and Windows PowerShell). In $PROFILE:
#     venvsel shell-hook pwsh | Out-String | Invoke-Expression
# It defines a `venvsel` function: `venvsel activate ...` and `venvsel deactivate` change
# this session (they run the code venvsel prints); every other command runs the real
# venvsel. `venvsel shell-hook` records where venvsel was loaded from ($global:_VENVSEL_EXE,
# or $global:_VENVSEL_PY), so switching to an env that does not hold venvsel
# never loses it. Without the hook:
#     venvsel activate --shell pwsh ... | Out-String | Invoke-Expression
function global:__venvsel_exe_words {
    if ($global:_VENVSEL_EXE) { return , @($global:_VENVSEL_EXE) }
    # -c, not -m venvsel: -m would put the current directory first on sys.path
    if ($global:_VENVSEL_PY) {
        return , @($global:_VENVSEL_PY, '-c', 'import sys; sys.path and not sys.path[0] and sys.path.pop(0); from venvsel.cli import main; sys.exit(main())')
    }
    $app = Get-Command -Name 'venvsel' -CommandType Application -ErrorAction Stop |
        Select-Object -First 1
    return , @($app.Source)
}
function global:venvsel {
    $venvselWords = __venvsel_exe_words
    $venvselExe = $venvselWords[0]
    $venvselPre = @($venvselWords | Select-Object -Skip 1)
    $verb = ''
    if ($args.Count -gt 0) { $verb = [string]$args[0] }
    $plain = ($args -contains '--help') -or ($args -contains '-h') -or ($args -contains '--json')
    if ((($verb -eq 'activate') -or ($verb -eq 'deactivate')) -and -not $plain) {
        $shellName = 'powershell'
        if ($PSVersionTable.PSEdition -eq 'Core') { $shellName = 'pwsh' }
        # Read venvsel's output as UTF-8 whatever the console code page is.
        $savedEncoding = [Console]::OutputEncoding
        $savedUtf8 = $env:PYTHONUTF8
        try {
            [Console]::OutputEncoding = [System.Text.Encoding]::UTF8
            $env:PYTHONUTF8 = '1'
            $code = & $venvselExe @venvselPre @args --shell $shellName | Out-String
            $rc = $LASTEXITCODE
        } finally {
            [Console]::OutputEncoding = $savedEncoding
            $env:PYTHONUTF8 = $savedUtf8
        }
        # Run only complete output: venvsel prints nothing when it refuses.
        if ($rc -ne 0) {
            $global:LASTEXITCODE = $rc
            return
        }
        if ($code) { Invoke-Expression $code }
    } else {
        & $venvselExe @venvselPre @args
    }
}

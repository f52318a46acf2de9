# Auto-activation (`venvsel shell-hook pwsh --auto`): before each prompt, a project's env
# follows the current directory. When the location has not changed, or changed within the
# project found last time, this is two string comparisons: no process starts. Otherwise
# `venvsel auto` runs once and says what to do. An env you activated yourself is never
# replaced; leaving the project restores exactly what was there before.
function global:__venvsel_auto {
    $here = $executionContext.SessionState.Path.CurrentLocation.ProviderPath
    if ($here -ceq $global:_VENVSEL_AUTO_PWD) { return }
    $global:_VENVSEL_AUTO_PWD = $here
    $sep = [string][IO.Path]::DirectorySeparatorChar
    $root = [string]$global:_VENVSEL_AUTO_ROOT
    if ($root -and ($here + $sep).StartsWith($root + $sep, [StringComparison]::Ordinal)) { return }
    if ($global:_VENVSEL_PY) {
        # venvsel's auto step without the CLI's imports
        $venvselExe = $global:_VENVSEL_PY
        $venvselPre = @('-c', 'import sys; sys.path and not sys.path[0] and sys.path.pop(0); from venvsel.auto import main; sys.exit(main())')
    } else {
        $venvselWords = __venvsel_exe_words
        $venvselExe = $venvselWords[0]
        $venvselPre = @($venvselWords | Select-Object -Skip 1) + @('auto')
    }
    $shellName = 'powershell'
    if ($PSVersionTable.PSEdition -eq 'Core') { $shellName = 'pwsh' }
    $savedEncoding = [Console]::OutputEncoding
    try {
        [Console]::OutputEncoding = [System.Text.Encoding]::UTF8
        $code = & $venvselExe @venvselPre --shell $shellName --active ([string]$global:_VENVSEL_AUTO_ENV) | Out-String
        $rc = $LASTEXITCODE
    } finally {
        [Console]::OutputEncoding = $savedEncoding
    }
    if (($rc -eq 0) -and $code) { Invoke-Expression $code }
}
if (-not $global:_VENVSEL_AUTO_HOOKED) {
    $global:_VENVSEL_AUTO_HOOKED = $true
    $global:_VENVSEL_AUTO_NEXT_PROMPT = (Get-Item -Path 'function:prompt' -ErrorAction SilentlyContinue).ScriptBlock
    function global:prompt {
        __venvsel_auto
        if ($global:_VENVSEL_AUTO_NEXT_PROMPT) { & $global:_VENVSEL_AUTO_NEXT_PROMPT } else {
            'PS ' + $executionContext.SessionState.Path.CurrentLocation + '> '
        }
    }
}

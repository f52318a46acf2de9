@echo off
rem venvsel helper for cmd.exe: `venvsel activate ...` and `venvsel deactivate` change this
rem cmd session. Save `venvsel shell-hook cmd` as venvsel.bat in a directory that comes
rem before Python's Scripts directory on PATH, or define a macro in your AutoRun script:
rem     doskey venvsel=call "%USERPROFILE%\venvsel.bat" $*
rem cmd has no eval: venvsel prints KEY=VALUE lines (it refuses any value cmd cannot hold
rem safely) and FOR /F applies them, as conda's activate does.
if not defined _VENVSEL_PY set "_VENVSEL_PY=python"
if /i "%~1"=="activate" goto :venvsel_check
if /i "%~1"=="deactivate" goto :venvsel_check
goto :venvsel_plain

:venvsel_check
rem Help and JSON are plain output, not KEY=VALUE lines.
for %%I in (%*) do (
    if /i "%%~I"=="--help" goto :venvsel_plain
    if /i "%%~I"=="-h" goto :venvsel_plain
    if /i "%%~I"=="--json" goto :venvsel_plain
)
set "_VENVSEL_TMP=%TEMP%\venvsel-%RANDOM%-%RANDOM%.env"
"%_VENVSEL_PY%" -m venvsel %* --shell cmd > "%_VENVSEL_TMP%"
if errorlevel 1 goto :venvsel_failed
rem Applied only when venvsel succeeded: it prints nothing when it refuses.
for /f "usebackq tokens=1* delims==" %%A in ("%_VENVSEL_TMP%") do set "%%A=%%B"
del "%_VENVSEL_TMP%" >nul 2>&1
set "_VENVSEL_TMP="
exit /b 0

:venvsel_failed
set "_VENVSEL_RC=%ERRORLEVEL%"
del "%_VENVSEL_TMP%" >nul 2>&1
set "_VENVSEL_TMP="
for %%R in (%_VENVSEL_RC%) do (set "_VENVSEL_RC=" & exit /b %%R)

:venvsel_plain
"%_VENVSEL_PY%" -m venvsel %*

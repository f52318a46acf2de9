"""The shells venvsel writes code for, named once.

Read by the CLI's ``--shell`` choices, the click-free front door (:mod:`venvsel.fast`) and
the renderers (:mod:`venvsel.shells`). It imports nothing, so neither a warm ``pick`` nor
``venvsel --help`` pays for the renderers to learn these names.
"""

from __future__ import annotations

# The names --shell accepts (activate, deactivate) and shell-hook takes.
SHELLS = ("bash", "zsh", "sh", "fish", "pwsh", "powershell", "cmd")
HOOK_SHELLS = SHELLS
# The shells whose hook can auto-activate a project's env on cd (shell-hook --auto).
AUTO_SHELLS = ("bash", "zsh", "fish", "pwsh", "powershell")

__all__ = ["AUTO_SHELLS", "HOOK_SHELLS", "SHELLS"]

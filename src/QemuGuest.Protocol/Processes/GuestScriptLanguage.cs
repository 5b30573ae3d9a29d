namespace QemuGuest.Protocol.Processes;

/// <summary>The interpreters <see cref="GuestProcessEngine.RunScriptAsync"/> runs script text with.</summary>
public enum GuestScriptLanguage
{
    Bash,
    Sh,
    PowerShell,
    Cmd,
}

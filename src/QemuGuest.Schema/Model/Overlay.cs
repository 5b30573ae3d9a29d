namespace QemuGuest.Schema;

// The PowerShell overlay: a separate file next to the QAPI schema (schema/qga.powershell.json,
// same single-quoted JSON syntax) so the QAPI file stays pure QAPI. One expression per command:
//
//   { 'command': 'guest-ping', 'cmdlet': 'Test-VMGuestAgent' }
//   { 'command': 'guest-shutdown', 'cmdlet': 'Stop-VMGuest', 'confirm-impact': 'High',
//     'parameters': { 'mode': { 'position': 0 } } }
//   { 'command': 'guest-file-read', 'cmdlet': 'Read-VMGuestFile',
//     'parameters': { 'handle': { 'position': 0, 'aliases': [ 'Id' ] } } }
//
// A command without an entry gets a generated name (see OverlayDefaults in the generator).

public sealed record ParameterOverlay(
    string Member,
    string? Name,
    int? Position,
    EquatableArray<string> Aliases,
    SourceLocation Location);

public sealed record CommandOverlay(
    string Command,
    string Verb,
    string Noun,
    string? ConfirmImpact,
    EquatableArray<ParameterOverlay> Parameters,
    SourceLocation Location);

public sealed record PowerShellOverlay(EquatableArray<CommandOverlay> Commands)
{
    public CommandOverlay? Find(string command)
    {
        foreach (var c in Commands)
        {
            if (c.Command == command)
            {
                return c;
            }
        }
        return null;
    }
}

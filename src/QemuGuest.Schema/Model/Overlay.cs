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

/// <summary>
/// One argument's parameter. <c>As</c>: how the PowerShell value differs from the wire value
/// (see <see cref="ParameterForms"/>), null when it is the member's own type. <c>Help</c>: the
/// parameter's help text when the schema's member doc describes the wire form, not the parameter.
/// </summary>
public sealed record ParameterOverlay(
    string Member,
    string? Name,
    int? Position,
    EquatableArray<string> Aliases,
    string? As,
    string? Help,
    SourceLocation Location);

/// <summary>The values of a parameter's 'as' key.</summary>
public static class ParameterForms
{
    /// <summary>A SecureString (prompted, masked) sent as the base64 of its UTF-8 text; for 'str' members.</summary>
    public const string SecureBase64 = "secure-base64";

    /// <summary>A [switch] for a required 'bool': always sent, false when not given.</summary>
    public const string Switch = "switch";

    public static readonly string[] All = { SecureBase64, Switch };
}

/// <summary>
/// A -Credential parameter set: the PSCredential's user name goes to <c>UserMember</c> and its
/// password to <c>PasswordMember</c> (which must be 'as': 'secure-base64').
/// </summary>
public sealed record CredentialOverlay(string UserMember, string PasswordMember, SourceLocation Location);

public sealed record CommandOverlay(
    string Command,
    string Verb,
    string Noun,
    string? ConfirmImpact,
    EquatableArray<ParameterOverlay> Parameters,
    CredentialOverlay? Credential,
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

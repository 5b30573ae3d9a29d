using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>One generated cmdlet.</summary>
internal sealed record CmdletInfo(
    string Command,
    string Verb,
    string Noun,
    string ClassName,
    string? ConfirmImpact,
    bool FromOverlay,
    EquatableArray<CmdletParameter> Parameters,
    string? ScalarProperty,
    CmdletCredential? Credential)
{
    public string Name => Verb + "-" + Noun;
}

/// <summary>
/// A -Credential parameter set beside the default one: the PSCredential's user name fills the
/// parameter of <c>UserMember</c>, its password the SecureString parameter of <c>PasswordMember</c>.
/// </summary>
internal sealed record CmdletCredential(string UserMember, string PasswordMember);

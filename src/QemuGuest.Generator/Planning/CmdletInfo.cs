using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>
/// One generated cmdlet. From the overlay: <c>Synopsis</c> (replaces the doc's first sentence),
/// <c>ReturnsAs</c> (a time form for a scalar result), <c>OutputTimes</c> (members of the
/// returned objects shown as DateTime), <c>Unwrap</c> (the list member whose elements are
/// written one by one), <c>Fixed</c> (arguments sent with a fixed value: a variant cmdlet).
/// </summary>
internal sealed record CmdletInfo(
    string Command,
    string Verb,
    string Noun,
    string ClassName,
    string? ConfirmImpact,
    bool FromOverlay,
    EquatableArray<CmdletParameter> Parameters,
    string? ScalarProperty,
    CmdletCredential? Credential,
    string? Synopsis,
    string? ReturnsAs,
    EquatableArray<OutputTimeOverlay> OutputTimes,
    string? Unwrap,
    EquatableArray<FixedArgumentOverlay> Fixed)
{
    public string Name => Verb + "-" + Noun;

    /// <summary>
    /// Every Test- cmdlet answers $true or $false per target (never nothing, never an error for a
    /// failed test), so `if (Test-...)` works; -Detailed gives the object with the reply.
    /// </summary>
    public bool IsTest => Verb == "Test";

    /// <summary>PSTypeName of a Test- cmdlet's -Detailed object.</summary>
    public string TestResultTypeName => "QemuGuest.Cmdlets." + Naming.ToPascalCase(Command) + "TestResult";

    /// <summary>PSTypeName of the object wrapping a scalar result.</summary>
    public string ScalarTypeName => "QemuGuest.Cmdlets." + Naming.ToPascalCase(Command) + "Result";
}

/// <summary>
/// A -Credential parameter set beside the default one: the PSCredential's user name fills the
/// parameter of <c>UserMember</c>, its password the SecureString parameter of <c>PasswordMember</c>.
/// </summary>
internal sealed record CmdletCredential(string UserMember, string PasswordMember);

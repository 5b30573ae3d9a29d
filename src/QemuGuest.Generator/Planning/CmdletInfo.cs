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
    string? ScalarProperty)
{
    public string Name => Verb + "-" + Noun;
}

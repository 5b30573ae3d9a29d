using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>
/// One parameter of a generated cmdlet (one argument member of the command). <c>Secret</c>: the
/// value is never shown (-WhatIf and -Confirm name the parameter without it). <c>Example</c>: the
/// overlay's text for this parameter in generated help examples (null: a $variable of its name).
/// <c>GuestPath</c>: the value names a guest path and must be absolute (overlay 'guest-path').
/// </summary>
internal sealed record CmdletParameter(
    string Member,
    string Name,
    CmdletParameterKind Kind,
    QapiTypeRef Type,
    bool Optional,
    int? Position,
    EquatableArray<string> Aliases,
    EquatableArray<string> ValidValues,
    string Doc,
    bool Secret,
    string? Example = null,
    bool GuestPath = false);

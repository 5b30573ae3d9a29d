using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>
/// One parameter of a generated cmdlet (one argument member of the command). <c>Secret</c>: the
/// value is never shown (-WhatIf and -Confirm name the parameter without it).
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
    bool Secret);

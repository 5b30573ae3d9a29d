using System.Collections.Generic;

namespace QemuGuest.Schema;

/// <summary>
/// QAPI's built-in types and the JSON kind each one takes on the wire ("string", "number",
/// "boolean", "null", or "value" for 'any'). 'QType' is QEMU's built-in enum of JSON kinds.
/// </summary>
public static class QapiBuiltins
{
    private static readonly Dictionary<string, string> Kinds = new(System.StringComparer.Ordinal)
    {
        ["str"] = "string",
        ["number"] = "number",
        ["int"] = "number",
        ["int8"] = "number",
        ["int16"] = "number",
        ["int32"] = "number",
        ["int64"] = "number",
        ["uint8"] = "number",
        ["uint16"] = "number",
        ["uint32"] = "number",
        ["uint64"] = "number",
        ["size"] = "number",
        ["bool"] = "boolean",
        ["null"] = "null",
        ["any"] = "value",
        ["QType"] = "string",
    };

    /// <summary>Every built-in type name, in QEMU's order.</summary>
    public static IReadOnlyList<string> Names { get; } = new[]
    {
        "str", "number", "int", "int8", "int16", "int32", "int64",
        "uint8", "uint16", "uint32", "uint64", "size", "bool", "null", "any", "QType",
    };

    /// <summary>The values of the built-in enum 'QType'.</summary>
    public static IReadOnlyList<string> QTypeValues { get; } = new[]
    {
        "none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool",
    };

    public static bool IsBuiltin(string name) => Kinds.ContainsKey(name);

    /// <summary>"string", "number", "boolean", "null" or "value" (any JSON); null if not a built-in.</summary>
    public static string? JsonKind(string name) => Kinds.TryGetValue(name, out var k) ? k : null;
}

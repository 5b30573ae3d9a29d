using System;
using System.Collections.Generic;
using QemuGuest.Generator.Emit;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>
/// Clashes the schema checker cannot see because they come from the generator's own naming:
/// two definitions becoming the same C# type (an implicit "{Command}Arguments" or "{Enum}Extensions"
/// against a schema type, a downstream "__com.x_name" against a stock "name"), two commands becoming
/// the same method, or a definition taking one of the fixed generated names.
/// </summary>
internal static class NameCheck
{
    private static readonly string[] Fixed = { "GuestAgentCommands", "IQgaCommandHandler", "QgaCommandTable", "QgaDispatcher", "QgaSchemaDescriptors" };

    public static List<DiagnosticInfo> Check(QapiSchema schema, GeneratorOptions options)
    {
        var map = new TypeMap(schema, options);
        var result = new List<DiagnosticInfo>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in Fixed)
        {
            types[f] = "the generated type " + f;
        }
        var methods = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in schema.Entities)
        {
            if (e is QapiCommand c)
            {
                Claim(methods, TypeMap.CommandMethod(c), "command '" + c.Name + "'", e, result, "method");
                continue;
            }
            if (!map.IsEmitted(e) && !(e is QapiStruct))
            {
                continue;
            }
            string what = Kind(e) + " '" + e.Name + "'";
            Claim(types, map.TypeName(e.Name), what, e, result, "type");
            if (e is QapiEnum)
            {
                Claim(types, map.TypeName(e.Name) + "Extensions", what, e, result, "type");
            }
        }
        return result;
    }

    private static string Kind(QapiEntity e) => e switch
    {
        QapiEnum => "enum",
        QapiUnion => "union",
        QapiAlternate => "alternate",
        _ => "struct",
    };

    private static void Claim(Dictionary<string, string> taken, string name, string what, QapiEntity e, List<DiagnosticInfo> result, string kind)
    {
        if (taken.TryGetValue(name, out var other))
        {
            result.Add(new DiagnosticInfo(
                DiagnosticDescriptors.NameClash.Id,
                new[] { what, other, kind, name }.ToEquatableArray(),
                e.Location.File, e.Location.Line, e.Location.Column, 0, 0));
            return;
        }
        taken[name] = what;
    }
}

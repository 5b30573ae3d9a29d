using System.Collections.Generic;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Emit;

/// <summary>
/// Backend "validation" (relay side, and the generic Invoke-VMGuestRpc cmdlet): descriptor tables
/// over the hand-written model in QemuGuest.Protocol.Validation. <c>QgaSchemaDescriptors</c> has one
/// static descriptor per type (named like the C# type), <c>Commands</c> and a ready <c>Validator</c>.
/// </summary>
internal static class ValidationEmitter
{
    public static string Emit(TypeMap map)
    {
        var w = new SourceWriter();
        w.Banner("validation", "System", "System.Collections.Generic", "QemuGuest.Protocol.Validation");
        w.Line("namespace " + map.Namespace + ";");
        w.Line();
        w.Line("/// <summary>The schema as data: type descriptors, command descriptors and a validator over them.</summary>");
        w.Open("public static partial class QgaSchemaDescriptors");
        var entities = new List<QapiEntity>();
        foreach (var e in map.Schema.Entities)
        {
            if (e is QapiEnum or QapiStruct or QapiUnion or QapiAlternate)
            {
                entities.Add(e);
            }
        }
        foreach (var e in entities)
        {
            string name = map.TypeName(e.Name);
            switch (e)
            {
                case QapiEnum en:
                {
                    var values = new List<string>();
                    foreach (var v in en.Values)
                    {
                        values.Add(TypeMap.Literal(v.Name));
                    }
                    string arr = values.Count == 0 ? "Array.Empty<string>()" : "new[] { " + string.Join(", ", values) + " }";
                    w.Line("public static readonly QapiEnumDescriptor " + name + " = new(" + TypeMap.Literal(e.Name) + ", " + arr + ");");
                    break;
                }
                case QapiStruct or QapiUnion:
                    w.Line("public static readonly QapiObjectDescriptor " + name + " = new(" + TypeMap.Literal(e.Name) + ");");
                    break;
                case QapiAlternate:
                    w.Line("public static readonly QapiAlternateDescriptor " + name + " = new(" + TypeMap.Literal(e.Name) + ");");
                    break;
            }
        }
        w.Line();
        w.Line("private static readonly QgaCommandDescriptor[] CommandArray;");
        w.Line();
        w.Open("static QgaSchemaDescriptors()");
        foreach (var e in entities)
        {
            string name = map.TypeName(e.Name);
            switch (e)
            {
                case QapiStruct s:
                    w.Line(name + ".Initialize(" + Members(map, s.AllMembers) + ");");
                    break;
                case QapiUnion u:
                {
                    w.Line(name + ".Initialize(");
                    w.Line("    " + Members(map, map.StructMembers(u.Base)) + ",");
                    w.Line("    " + TypeMap.Literal(u.Discriminator) + ",");
                    w.Line("    new Dictionary<string, QapiMemberDescriptor[]>(StringComparer.Ordinal)");
                    w.Line("    {");
                    foreach (var v in u.Variants)
                    {
                        w.Line("        [" + TypeMap.Literal(v.Name) + "] = " + Members(map, map.StructMembers(v.Type.Name)) + ",");
                    }
                    w.Line("    });");
                    break;
                }
                case QapiAlternate a:
                {
                    var alts = new List<string>();
                    foreach (var alt in a.Alternatives)
                    {
                        alts.Add(map.DescriptorExpr(alt.Type));
                    }
                    w.Line(name + ".Initialize(new QapiTypeDescriptor[] { " + string.Join(", ", alts) + " });");
                    break;
                }
            }
        }
        w.Line("CommandArray = new QgaCommandDescriptor[]");
        w.Line("{");
        foreach (var c in map.Schema.Commands)
        {
            string info = TypeMap.CommandInfoExpr(c);
            string args = c.Arguments is null ? "null" : map.TypeName(c.Arguments);
            string ret = c.Returns is null ? "null" : map.DescriptorExpr(c.Returns);
            w.Line("    new QgaCommandDescriptor(" + info + ", " + args + ", " + ret + "),");
        }
        w.Line("};");
        w.Line("Validator = new SchemaValidator(CommandArray);");
        w.Close();
        w.Line();
        w.Line("/// <summary>Every command, in schema order.</summary>");
        w.Line("public static IReadOnlyList<QgaCommandDescriptor> Commands => CommandArray;");
        w.Line();
        w.Line("/// <summary>A validator over <see cref=\"Commands\"/>.</summary>");
        w.Line("public static SchemaValidator Validator { get; }");
        w.Close();
        return w.ToString();
    }

    private static string Members(TypeMap map, EquatableArray<QapiMember> members)
    {
        if (members.IsEmpty)
        {
            return "Array.Empty<QapiMemberDescriptor>()";
        }
        var parts = new List<string>();
        foreach (var m in members)
        {
            bool pathComponent = false;
            foreach (var f in m.Features)
            {
                pathComponent |= f.Name == "path-component";
            }
            parts.Add("new(" + TypeMap.Literal(m.Name) + ", " + map.DescriptorExpr(m.Type) + ", " + (m.Optional ? "true" : "false") + (pathComponent ? ", pathComponent: true" : "") + ")");
        }
        return "new QapiMemberDescriptor[] { " + string.Join(", ", parts) + " }";
    }
}

using System.Collections.Generic;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Emit;

/// <summary>
/// Backend "types": one C# type per schema type, with reflection-free JSON marshalling.
/// <list type="bullet">
/// <item>enum → C# enum + {Name}Extensions (ToWireName / FromWireName / ReadJson), wire names explicit.</item>
/// <item>struct (and a command's implicit argument struct, named {Command}Arguments) → sealed record:
/// ctor takes the required members, optional members are nullable init properties, written only when set.</item>
/// <item>union → abstract record holding the base members and the discriminator (abstract, read-only),
/// one nested sealed record {Value}Case per discriminator value holding that branch's members; flat on the wire.</item>
/// <item>alternate → abstract record with one nested sealed record {Name}Case(Value) per branch, chosen by JSON kind;
/// implicit conversions from each branch's C# type (except lists).</item>
/// </list>
/// Every struct/union implements IQgaArguments. Readers: static ReadJson(JsonElement, QapiPath).
/// </summary>
internal static class TypesEmitter
{
    public static string Emit(TypeMap map)
    {
        var w = new SourceWriter();
        w.Banner("types", "System", "System.Collections.Generic", "System.Text.Json", "QemuGuest.Protocol", "QemuGuest.Protocol.Marshalling");
        w.Line("namespace " + map.Namespace + ";");
        var argOwners = new Dictionary<string, QapiCommand>();
        foreach (var c in map.Schema.Commands)
        {
            if (c.Arguments is not null && c.Arguments.StartsWith("q_", System.StringComparison.Ordinal) && !argOwners.ContainsKey(c.Arguments))
            {
                argOwners[c.Arguments] = c;
            }
        }
        foreach (var e in map.Schema.Entities)
        {
            if (!map.IsEmitted(e))
            {
                continue;
            }
            w.Line();
            switch (e)
            {
                case QapiEnum en:
                    EmitEnum(w, map, en);
                    break;
                case QapiStruct s:
                    EmitStruct(w, map, s, argOwners.TryGetValue(s.Name, out var owner) ? owner : null);
                    break;
                case QapiUnion u:
                    EmitUnion(w, map, u);
                    break;
                case QapiAlternate a:
                    EmitAlternate(w, map, a);
                    break;
            }
        }
        return w.ToString();
    }

    private static void EmitEnum(SourceWriter w, TypeMap map, QapiEnum e)
    {
        string name = map.TypeName(e.Name);
        DocWriter.Entity(w, e, "QAPI enum '" + e.Name + "'.");
        DocWriter.If(w, e.If);
        w.Open("public enum " + name);
        foreach (var v in e.Values)
        {
            DocWriter.Summary(w, DocWriter.MemberDoc(e, v.Name), "Wire value \"" + v.Name + "\".");
            DocWriter.If(w, v.If);
            w.Line(Naming.ToPascalCase(v.Name) + ",");
        }
        w.Close();
        w.Line();
        w.Line("/// <summary>Wire names and JSON marshalling of <see cref=\"" + name + "\"/>.</summary>");
        w.Open("public static partial class " + name + "Extensions");
        w.Line("/// <summary>The wire name of a value.</summary>");
        w.Open("public static string ToWireName(this " + name + " value) => value switch");
        foreach (var v in e.Values)
        {
            w.Line(name + "." + Naming.ToPascalCase(v.Name) + " => " + TypeMap.Literal(v.Name) + ",");
        }
        w.Line("_ => throw new ArgumentOutOfRangeException(nameof(value)),");
        w.Close(";");
        w.Line();
        w.Line("/// <summary>The value with this wire name, or null.</summary>");
        w.Open("public static " + name + "? FromWireName(string wireName) => wireName switch");
        foreach (var v in e.Values)
        {
            w.Line(TypeMap.Literal(v.Name) + " => " + name + "." + Naming.ToPascalCase(v.Name) + ",");
        }
        w.Line("_ => null,");
        w.Close(";");
        w.Line();
        w.Line("public static " + name + " ReadJson(JsonElement element, QapiPath path) => QapiJson.ReadEnum(element, path, static s => FromWireName(s));");
        w.Line();
        w.Line("public static void WriteJson(this " + name + " value, Utf8JsonWriter writer) => writer.WriteStringValue(ToWireName(value));");
        w.Close();
    }

    private static string? MemberDoc(TypeMap map, QapiStruct s, QapiCommand? owner, string member)
    {
        if (owner is not null)
        {
            return owner.Doc?.MemberText(member);
        }
        QapiStruct? cur = s;
        while (cur is not null)
        {
            if (cur.Doc?.MemberText(member) is { } text && text.Trim().Length > 0)
            {
                return text;
            }
            cur = cur.Base is null ? null : map.Schema.Find<QapiStruct>(cur.Base);
        }
        return null;
    }

    private static void EmitStruct(SourceWriter w, TypeMap map, QapiStruct s, QapiCommand? owner)
    {
        string name = map.TypeName(s.Name);
        if (owner is not null && s.IsImplicit)
        {
            w.Line("/// <summary>Arguments of <c>" + DocWriter.Escape(owner.Name) + "</c>.</summary>");
            DocWriter.If(w, owner.If);
        }
        else
        {
            DocWriter.Entity(w, s, "QAPI struct '" + s.Name + "'.");
            DocWriter.If(w, s.If);
        }
        w.Open("public sealed partial record " + name + " : IQgaArguments");
        WireNames(w, "WireMembers", s.AllMembers, null);
        w.Line();
        Constructor(w, map, name, "public", s.AllMembers, null);
        Properties(w, map, name, s.AllMembers, m => MemberDoc(map, s, owner, m));
        w.Line("/// <summary>Writes this value as a JSON object.</summary>");
        w.Open("public void WriteJson(Utf8JsonWriter writer)");
        w.Line("writer.WriteStartObject();");
        w.Line("WriteMembers(writer);");
        w.Line("writer.WriteEndObject();");
        w.Close();
        w.Line();
        w.Line("/// <summary>Writes the members into an already-open JSON object.</summary>");
        w.Open("public void WriteMembers(Utf8JsonWriter writer)");
        WriteMembers(w, map, name, s.AllMembers, null);
        w.Close();
        w.Line();
        w.Line("/// <summary>Reads a value, throwing <see cref=\"QapiUnmarshalException\"/> with QEMU's texts.</summary>");
        w.Open("public static " + name + " ReadJson(JsonElement element, QapiPath path)");
        w.Line("QapiJson.ExpectObject(element, path);");
        ReadMembers(w, map, s.AllMembers);
        w.Line("QapiJson.CheckUnexpected(element, path, WireMembers);");
        w.Line("return " + map.Construct(name, s.AllMembers, m => TypeMap.LocalName(m.Name)) + ";");
        w.Close();
        w.Close();
    }

    private static void WireNames(SourceWriter w, string field, EquatableArray<QapiMember> a, EquatableArray<QapiMember>? b)
    {
        var names = new List<string>();
        foreach (var m in a)
        {
            names.Add(TypeMap.Literal(m.Name));
        }
        if (b is { } more)
        {
            foreach (var m in more)
            {
                names.Add(TypeMap.Literal(m.Name));
            }
        }
        w.Line("/// <summary>Wire names of the members, in wire order.</summary>");
        w.Line("public static readonly string[] " + field + " = { " + string.Join(", ", names) + " };");
    }

    private static void Constructor(SourceWriter w, TypeMap map, string name, string access, EquatableArray<QapiMember> members, (string BaseCall, EquatableArray<QapiMember> BaseMembers)? chain)
    {
        var ps = new List<string>();
        var assigns = new List<string>();
        if (chain is { } c)
        {
            foreach (var m in c.BaseMembers)
            {
                if (!m.Optional)
                {
                    ps.Add(map.CsType(m.Type) + " " + TypeMap.ParameterName(m.Name));
                }
            }
        }
        foreach (var m in members)
        {
            if (m.Optional)
            {
                continue;
            }
            string p = TypeMap.ParameterName(m.Name);
            ps.Add(map.CsType(m.Type) + " " + p);
            string prop = TypeMap.PropertyName(m.Name, name);
            assigns.Add(map.IsValueType(m.Type)
                ? prop + " = " + p + ";"
                : prop + " = " + p + " ?? throw new ArgumentNullException(nameof(" + p + "));");
        }
        string header = access + " " + name + "(" + string.Join(", ", ps) + ")";
        if (chain is { } c2)
        {
            w.Line(header);
            w.Line("    : " + c2.BaseCall);
            w.Line("{");
        }
        else
        {
            w.Line(header);
            w.Line("{");
        }
        foreach (var a in assigns)
        {
            w.Line("    " + a);
        }
        w.Line("}");
        w.Line();
    }

    private static void Properties(SourceWriter w, TypeMap map, string name, EquatableArray<QapiMember> members, System.Func<string, string?> doc)
    {
        foreach (var m in members)
        {
            DocWriter.Summary(w, doc(m.Name), "Wire member \"" + m.Name + "\"" + (m.Optional ? " (optional)." : "."));
            DocWriter.If(w, m.If);
            w.Line("public " + map.MemberType(m) + " " + TypeMap.PropertyName(m.Name, name) + " { get; init; }");
            w.Line();
        }
    }

    private static void WriteMembers(SourceWriter w, TypeMap map, string name, EquatableArray<QapiMember> members, string? discriminator)
    {
        foreach (var m in members)
        {
            string prop = TypeMap.PropertyName(m.Name, name);
            if (m.Optional)
            {
                string local = TypeMap.LocalName(m.Name);
                w.Open("if (" + prop + " is { } " + local + ")");
                w.Line("writer.WritePropertyName(" + TypeMap.Literal(m.Name) + ");");
                w.Line(map.WriteStatement(m.Type, "writer", local));
                w.Close();
            }
            else
            {
                w.Line("writer.WritePropertyName(" + TypeMap.Literal(m.Name) + ");");
                w.Line(map.WriteStatement(m.Type, "writer", prop));
            }
        }
    }

    /// <summary>
    /// One local per member from <c>element</c> at <c>path</c>, in schema order (QEMU's order of
    /// checks). With <paramref name="base64AsBytes"/> (the agent's dispatcher) 'base64' members
    /// are read as <c>QapiBase64</c> instead of strings.
    /// </summary>
    internal static void ReadMembers(SourceWriter w, TypeMap map, EquatableArray<QapiMember> members, bool base64AsBytes = false)
    {
        foreach (var m in members)
        {
            string local = TypeMap.LocalName(m.Name);
            string lit = TypeMap.Literal(m.Name);
            string p = "path.Member(" + lit + ")";
            bool bytes = base64AsBytes && TypeMap.IsBase64(m);
            string type = bytes ? "QapiBase64" : map.CsType(m.Type);
            if (m.Optional)
            {
                w.Line((bytes ? map.HandlerMemberType(m) : map.MemberType(m)) + " " + local + " = QapiJson.Optional(element, " + lit + ", out var " + local + "_json) ? "
                    + (bytes ? "QapiBase64.Read(" + local + "_json, " + p + ")" : map.ReadExpr(m.Type, local + "_json", p)) + " : null;");
            }
            else
            {
                string json = "QapiJson.Required(element, path, " + lit + ")";
                w.Line(type + " " + local + " = " + (bytes ? "QapiBase64.Read(" + json + ", " + p + ")" : map.ReadExpr(m.Type, json, p)) + ";");
            }
        }
    }

    private static void EmitUnion(SourceWriter w, TypeMap map, QapiUnion u)
    {
        string name = map.TypeName(u.Name);
        var baseMembers = map.StructMembers(u.Base);
        var own = new List<QapiMember>();
        QapiMember? disc = null;
        foreach (var m in baseMembers)
        {
            if (m.Name == u.Discriminator)
            {
                disc = m;
            }
            else
            {
                own.Add(m);
            }
        }
        var ownMembers = own.ToEquatableArray();
        string enumName = map.TypeName(u.DiscriminatorEnum);
        string discProp = TypeMap.PropertyName(u.Discriminator, name);
        var en = map.UnionEnum(u);

        DocWriter.Entity(w, u, "QAPI union '" + u.Name + "'.");
        DocWriter.If(w, u.If);
        w.Open("public abstract partial record " + name + " : IQgaArguments");
        var baseStruct = map.Schema.Find<QapiStruct>(u.Base);
        Constructor(w, map, name, "private protected", ownMembers, null);
        Properties(w, map, name, ownMembers, m => u.Doc?.MemberText(m) ?? baseStruct?.Doc?.MemberText(m));
        DocWriter.Summary(w, u.Doc?.MemberText(u.Discriminator), "The discriminator \"" + u.Discriminator + "\": which branch this is.");
        w.Line("public abstract " + enumName + " " + discProp + " { get; }");
        w.Line();
        w.Line("/// <summary>Writes this value as a JSON object (flat: base, discriminator and branch members).</summary>");
        w.Open("public void WriteJson(Utf8JsonWriter writer)");
        w.Line("writer.WriteStartObject();");
        w.Line("WriteMembers(writer);");
        w.Line("writer.WriteEndObject();");
        w.Close();
        w.Line();
        w.Line("/// <summary>Writes the members into an already-open JSON object.</summary>");
        w.Open("public void WriteMembers(Utf8JsonWriter writer)");
        foreach (var m in baseMembers)
        {
            if (m.Name == u.Discriminator)
            {
                w.Line("writer.WritePropertyName(" + TypeMap.Literal(m.Name) + ");");
                w.Line("writer.WriteStringValue(" + enumName + "Extensions.ToWireName(" + discProp + "));");
            }
            else
            {
                WriteMembers(w, map, name, new[] { m }.ToEquatableArray(), null);
            }
        }
        w.Line("WriteVariantMembers(writer);");
        w.Close();
        w.Line();
        w.Line("private protected abstract void WriteVariantMembers(Utf8JsonWriter writer);");
        w.Line();
        w.Line("/// <summary>Reads a value, throwing <see cref=\"QapiUnmarshalException\"/> with QEMU's texts.</summary>");
        w.Open("public static " + name + " ReadJson(JsonElement element, QapiPath path)");
        w.Line("QapiJson.ExpectObject(element, path);");
        ReadMembers(w, map, baseMembers);
        string discLocal = TypeMap.LocalName(u.Discriminator);
        w.Open("switch (" + discLocal + ")");
        foreach (var v in en?.Values ?? EquatableArray<QapiEnumValue>.Empty)
        {
            string caseName = Naming.ToPascalCase(v.Name) + "Case";
            var variant = map.UnionVariant(u, v.Name);
            var vMembers = variant is null ? EquatableArray<QapiMember>.Empty : map.StructMembers(variant.Type.Name);
            w.Open("case " + enumName + "." + Naming.ToPascalCase(v.Name) + ":");
            ReadMembers(w, map, vMembers);
            w.Line("QapiJson.CheckUnexpected(element, path, " + caseName + ".WireMembers);");
            var req = new List<string>();
            var init = new List<string>();
            foreach (var m in ownMembers)
            {
                if (m.Optional)
                {
                    init.Add(TypeMap.PropertyName(m.Name, name) + " = " + TypeMap.LocalName(m.Name));
                }
                else
                {
                    req.Add(TypeMap.LocalName(m.Name));
                }
            }
            foreach (var m in vMembers)
            {
                if (m.Optional)
                {
                    init.Add(TypeMap.PropertyName(m.Name, caseName) + " = " + TypeMap.LocalName(m.Name));
                }
                else
                {
                    req.Add(TypeMap.LocalName(m.Name));
                }
            }
            string ctor = "new " + caseName + "(" + string.Join(", ", req) + ")" + (init.Count > 0 ? " { " + string.Join(", ", init) + " }" : string.Empty);
            w.Line("return " + ctor + ";");
            w.Close();
        }
        w.Line("default:");
        w.Line("    throw new ArgumentOutOfRangeException(nameof(element));");
        w.Close();
        w.Close();

        foreach (var v in en?.Values ?? EquatableArray<QapiEnumValue>.Empty)
        {
            string caseName = Naming.ToPascalCase(v.Name) + "Case";
            var variant = map.UnionVariant(u, v.Name);
            var vMembers = variant is null ? EquatableArray<QapiMember>.Empty : map.StructMembers(variant.Type.Name);
            var vStruct = variant is null ? null : map.Schema.Find<QapiStruct>(variant.Type.Name);
            w.Line();
            w.Line("/// <summary>The branch for " + discProp + " = \"" + DocWriter.Escape(v.Name) + "\".</summary>");
            DocWriter.If(w, variant?.If ?? v.If);
            w.Open("public sealed partial record " + caseName + " : " + name);
            WireNames(w, "WireMembers", baseMembers, vMembers);
            w.Line();
            var baseArgs = new List<string>();
            foreach (var m in ownMembers)
            {
                if (!m.Optional)
                {
                    baseArgs.Add(TypeMap.ParameterName(m.Name));
                }
            }
            Constructor(w, map, caseName, "public", vMembers, ("base(" + string.Join(", ", baseArgs) + ")", ownMembers));
            Properties(w, map, caseName, vMembers, m => vStruct?.Doc?.MemberText(m));
            w.Line("/// <inheritdoc/>");
            w.Line("public override " + enumName + " " + discProp + " => " + enumName + "." + Naming.ToPascalCase(v.Name) + ";");
            w.Line();
            w.Open("private protected override void WriteVariantMembers(Utf8JsonWriter writer)");
            WriteMembers(w, map, caseName, vMembers, null);
            w.Close();
            w.Close();
        }
        w.Close();
    }

    private static void EmitAlternate(SourceWriter w, TypeMap map, QapiAlternate a)
    {
        string name = map.TypeName(a.Name);
        DocWriter.Entity(w, a, "QAPI alternate '" + a.Name + "'.");
        DocWriter.If(w, a.If);
        w.Open("public abstract partial record " + name);
        w.Open("private protected " + name + "()");
        w.Close();
        w.Line();
        w.Line("/// <summary>Writes this value as the chosen branch's JSON.</summary>");
        w.Line("public abstract void WriteJson(Utf8JsonWriter writer);");
        w.Line();
        w.Line("/// <summary>Reads a value; the JSON kind picks the branch.</summary>");
        w.Open("public static " + name + " ReadJson(JsonElement element, QapiPath path)");
        w.Open("switch (element.ValueKind)");
        foreach (var alt in a.Alternatives)
        {
            string caseName = Naming.ToPascalCase(alt.Name) + "Case";
            string kind = map.JsonKind(alt.Type);
            string[] labels = kind switch
            {
                "Bool" => new[] { "JsonValueKind.True", "JsonValueKind.False" },
                "Any" => new[] { "JsonValueKind.Object", "JsonValueKind.Array", "JsonValueKind.String", "JsonValueKind.Number", "JsonValueKind.True", "JsonValueKind.False", "JsonValueKind.Null" },
                _ => new[] { "JsonValueKind." + kind },
            };
            foreach (var l in labels)
            {
                w.Line("case " + l + ":");
            }
            w.Line("    return new " + caseName + "(" + map.ReadExpr(alt.Type, "element", "path") + ");");
        }
        w.Line("default:");
        w.Line("    throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.BareName, " + TypeMap.Literal(a.Name) + "));");
        w.Close();
        w.Close();
        foreach (var alt in a.Alternatives)
        {
            string caseName = Naming.ToPascalCase(alt.Name) + "Case";
            string type = map.CsType(alt.Type);
            if (!alt.Type.IsArray && alt.Type.Name != "any")
            {
                w.Line();
                w.Line("public static implicit operator " + name + "(" + type + " value) => new " + caseName + "(value);");
            }
        }
        foreach (var alt in a.Alternatives)
        {
            string caseName = Naming.ToPascalCase(alt.Name) + "Case";
            string type = map.CsType(alt.Type);
            w.Line();
            DocWriter.Summary(w, a.Doc?.MemberText(alt.Name), "The branch \"" + alt.Name + "\".");
            DocWriter.If(w, alt.If);
            w.Open("public sealed partial record " + caseName + " : " + name);
            w.Open("public " + caseName + "(" + type + " value)");
            w.Line(map.IsValueType(alt.Type) ? "Value = value;" : "Value = value ?? throw new ArgumentNullException(nameof(value));");
            w.Close();
            w.Line();
            w.Line("public " + type + " Value { get; init; }");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("public override void WriteJson(Utf8JsonWriter writer) => " + map.WriteStatement(alt.Type, "writer", "Value"));
            w.Close();
        }
        w.Close();
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Emit;

/// <summary>
/// Schema → C# naming and per-type code snippets, shared by all backends (one place decides
/// what a QAPI type is in C# and how it is read and written).
/// </summary>
internal sealed class TypeMap
{
    private static readonly HashSet<string> ReservedMemberNames = new(StringComparer.Ordinal)
    {
        "WriteJson", "ReadJson", "WriteMembers", "WireMembers", "EqualityContract", "ToString", "Equals",
        "GetHashCode", "GetType", "PrintMembers", "Deconstruct", "Clone", "MemberwiseClone", "Finalize", "Dispose",
    };

    public TypeMap(QapiSchema schema, GeneratorOptions options)
    {
        Schema = schema;
        Options = options;
    }

    public QapiSchema Schema { get; }

    public GeneratorOptions Options { get; }

    public string Namespace => Options.Namespace;

    public string TypesNamespace => Options.TypesNamespace;

    // ---- names ----

    /// <summary>C# name of a schema type entity: implicit argument structs become {Command}Arguments.</summary>
    public string TypeName(string wireName)
    {
        if (wireName.StartsWith("q_obj_", StringComparison.Ordinal) && wireName.EndsWith("-arg", StringComparison.Ordinal))
        {
            string command = wireName.Substring("q_obj_".Length, wireName.Length - "q_obj_".Length - "-arg".Length);
            return Naming.ToPascalCase(command) + "Arguments";
        }
        return Naming.ToPascalCase(wireName);
    }

    public static string CommandMethod(QapiCommand c) => Naming.ToPascalCase(c.Name) + "Async";

    /// <summary>Property name of a member, avoiding the generated members' names and the type's own.</summary>
    public static string PropertyName(string member, string typeName)
    {
        string p = Naming.ToPascalCase(member);
        return ReservedMemberNames.Contains(p) || p == typeName ? p + "Value" : p;
    }

    public static string ParameterName(string member) => Naming.ToCamelCase(member);

    /// <summary>
    /// A member's parameter name in the generated client's method: <see cref="ParameterName"/>,
    /// with "Argument" added where it would clash with the method's own parameters or locals.
    /// The cmdlets call those methods with named arguments, so both read this one rule.
    /// </summary>
    public static string ClientParameterName(string member)
    {
        string name = ParameterName(member);
        return name is "options" or "cancellationToken" or "qgaArguments" or "qgaResult" ? name + "Argument" : name;
    }

    public static string LocalName(string member) => "m_" + Naming.ToCamelCase(member).TrimStart('@');

    public static string Literal(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20 || c > 0x7e)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    // ---- entities ----

    public QapiEntity? Find(string name) => Schema.Find(name);

    public bool IsBuiltin(string name) => Builtin(name) is not null;

    /// <summary>Members a struct contributes on the wire (base first), as the checker resolved them.</summary>
    public EquatableArray<QapiMember> StructMembers(string structName) =>
        Schema.Find<QapiStruct>(structName)?.AllMembers ?? EquatableArray<QapiMember>.Empty;

    public QapiEnum? UnionEnum(QapiUnion u) => Schema.Find<QapiEnum>(u.DiscriminatorEnum);

    /// <summary>The variant struct for an enum value of a union, or null when the value has none.</summary>
    public QapiVariant? UnionVariant(QapiUnion u, string value)
    {
        foreach (var v in u.Variants)
        {
            if (v.Name == value)
            {
                return v;
            }
        }
        return null;
    }

    /// <summary>True for types emitted by the types backend (implicit union bases are flattened away).</summary>
    public bool IsEmitted(QapiEntity e) => e switch
    {
        QapiStruct s => !s.IsImplicit || s.Name.EndsWith("-arg", StringComparison.Ordinal),
        QapiEnum or QapiUnion or QapiAlternate => !e.IsImplicit,
        _ => false,
    };

    // ---- C# types ----

    private sealed record BuiltinInfo(string CsType, bool ValueType, string Reader, string Descriptor);

    private static BuiltinInfo? Builtin(string name) => name switch
    {
        "str" => new("string", false, "ReadString", "Str"),
        "int" => new("long", true, "ReadInt", "Int"),
        "int64" => new("long", true, "ReadInt", "Int64"),
        "int8" => new("sbyte", true, "ReadInt8", "Int8"),
        "int16" => new("short", true, "ReadInt16", "Int16"),
        "int32" => new("int", true, "ReadInt32", "Int32"),
        "uint8" => new("byte", true, "ReadUInt8", "UInt8"),
        "uint16" => new("ushort", true, "ReadUInt16", "UInt16"),
        "uint32" => new("uint", true, "ReadUInt32", "UInt32"),
        "uint64" => new("ulong", true, "ReadUInt64", "UInt64"),
        "size" => new("ulong", true, "ReadSize", "Size"),
        "number" => new("double", true, "ReadNumber", "Number"),
        "bool" => new("bool", true, "ReadBool", "Bool"),
        "null" => new("QapiNull", false, "ReadNull", "Null"),
        "any" => new("JsonElement", true, "ReadAny", "Any"),
        "QType" => new("string", false, "ReadString", "Str"),
        _ => null,
    };

    /// <summary>The C# type of a type reference (not nullable-annotated).</summary>
    public string CsType(QapiTypeRef t)
    {
        string element = Builtin(t.Name)?.CsType ?? TypeName(t.Name);
        return t.IsArray ? "IReadOnlyList<" + element + ">" : element;
    }

    public string CsType(string name) => CsType(new QapiTypeRef(name, false));

    public bool IsValueType(QapiTypeRef t) =>
        !t.IsArray && (Builtin(t.Name)?.ValueType ?? Find(t.Name) is QapiEnum);

    /// <summary>C# type of a member: nullable when optional.</summary>
    public string MemberType(QapiMember m) => CsType(m.Type) + (m.Optional ? "?" : string.Empty);

    /// <summary>Expression reading <paramref name="e"/> (a JsonElement) at <paramref name="p"/> (a QapiPath).</summary>
    public string ReadExpr(QapiTypeRef t, string e, string p, int depth = 0)
    {
        if (t.IsArray)
        {
            string x = "x" + depth.ToString(CultureInfo.InvariantCulture);
            string xp = "p" + depth.ToString(CultureInfo.InvariantCulture);
            return "QapiJson.ReadList(" + e + ", " + p + ", static (" + x + ", " + xp + ") => "
                + ReadExpr(new QapiTypeRef(t.Name, false), x, xp, depth + 1) + ")";
        }
        var b = Builtin(t.Name);
        if (b is not null)
        {
            return "QapiJson." + b.Reader + "(" + e + ", " + p + ")";
        }
        if (Find(t.Name) is QapiEnum)
        {
            return TypeName(t.Name) + "Extensions.ReadJson(" + e + ", " + p + ")";
        }
        return TypeName(t.Name) + ".ReadJson(" + e + ", " + p + ")";
    }

    /// <summary>Statement writing value <paramref name="v"/> with writer <paramref name="w"/>.</summary>
    public string WriteStatement(QapiTypeRef t, string w, string v, int depth = 0) => WriteExpr(t, w, v, depth) + ";";

    private string WriteExpr(QapiTypeRef t, string w, string v, int depth)
    {
        if (t.IsArray)
        {
            string ww = "w" + depth.ToString(CultureInfo.InvariantCulture);
            string x = "x" + depth.ToString(CultureInfo.InvariantCulture);
            return "QapiJson.WriteList(" + w + ", " + v + ", static (" + ww + ", " + x + ") => "
                + WriteExpr(new QapiTypeRef(t.Name, false), ww, x, depth + 1) + ")";
        }
        switch (t.Name)
        {
            case "str":
            case "QType":
                return w + ".WriteStringValue(" + v + ")";
            case "int":
            case "int64":
            case "uint64":
            case "size":
            case "number":
                return w + ".WriteNumberValue(" + v + ")";
            case "int8":
            case "int16":
            case "int32":
                return w + ".WriteNumberValue((int)" + v + ")";
            case "uint8":
            case "uint16":
            case "uint32":
                return w + ".WriteNumberValue((uint)" + v + ")";
            case "bool":
                return w + ".WriteBooleanValue(" + v + ")";
            case "null":
                return w + ".WriteNullValue()";
            case "any":
                return v + ".WriteTo(" + w + ")";
        }
        if (Find(t.Name) is QapiEnum)
        {
            return w + ".WriteStringValue(" + TypeName(t.Name) + "Extensions.ToWireName(" + v + "))";
        }
        return v + ".WriteJson(" + w + ")";
    }

    /// <summary>Descriptor expression for the validation tables.</summary>
    public string DescriptorExpr(QapiTypeRef t)
    {
        string element = Builtin(t.Name) is { } b ? "QapiBuiltinDescriptor." + b.Descriptor : TypeName(t.Name);
        return t.IsArray ? "new QapiArrayDescriptor(" + element + ")" : element;
    }

    /// <summary>The JSON kinds a type accepts (for alternates): "String", "Number", "Bool", "Null", "Object", "Array".</summary>
    public string JsonKind(QapiTypeRef t)
    {
        if (t.IsArray)
        {
            return "Array";
        }
        switch (t.Name)
        {
            case "str":
            case "QType":
                return "String";
            case "bool":
                return "Bool";
            case "null":
                return "Null";
            case "any":
                return "Any";
        }
        if (Builtin(t.Name) is not null)
        {
            return "Number";
        }
        return Find(t.Name) is QapiEnum ? "String" : "Object";
    }

    // ---- conditions ----

    public static string ConditionText(QapiCondition c) => c switch
    {
        QapiConditionName n => n.Name,
        QapiConditionAll a => "all(" + Join(a.Conditions) + ")",
        QapiConditionAny a => "any(" + Join(a.Conditions) + ")",
        QapiConditionNot n => "not(" + ConditionText(n.Condition) + ")",
        _ => "?",
    };

    /// <summary>
    /// The one <c>new QgaCommandInfo(...)</c> for a command, shared by the dispatch and validation
    /// backends so the agent's and the relay's tables (capabilities included) cannot differ.
    /// </summary>
    public static string CommandInfoExpr(QapiCommand c)
    {
        var features = new List<string>();
        foreach (var f in c.Features)
        {
            features.Add(Literal(f.Name));
        }
        var capabilities = new List<string>();
        foreach (var cap in c.Capabilities)
        {
            capabilities.Add(Literal(cap));
        }
        string fs = features.Count == 0 ? "Array.Empty<string>()" : "new[] { " + string.Join(", ", features) + " }";
        string cs = capabilities.Count == 0 ? "Array.Empty<string>()" : "new[] { " + string.Join(", ", capabilities) + " }";
        string cond = c.If is null ? "null" : ConditionExpr(c.If);
        return "new QgaCommandInfo(" + Literal(c.Name) + ", " + (c.SuccessResponse ? "true" : "false") + ", " + cond + ", " + fs + ", " + cs + ")";
    }

    public static string ConditionExpr(QapiCondition c) => c switch
    {
        QapiConditionName n => "QgaCondition.Symbol(" + Literal(n.Name) + ")",
        QapiConditionAll a => "QgaCondition.All(" + JoinExpr(a.Conditions) + ")",
        QapiConditionAny a => "QgaCondition.Any(" + JoinExpr(a.Conditions) + ")",
        QapiConditionNot n => "QgaCondition.Not(" + ConditionExpr(n.Condition) + ")",
        _ => "null",
    };

    private static string Join(EquatableArray<QapiCondition> cs)
    {
        var parts = new List<string>();
        foreach (var c in cs)
        {
            parts.Add(ConditionText(c));
        }
        return string.Join(", ", parts);
    }

    private static string JoinExpr(EquatableArray<QapiCondition> cs)
    {
        var parts = new List<string>();
        foreach (var c in cs)
        {
            parts.Add(ConditionExpr(c));
        }
        return string.Join(", ", parts);
    }

    // ---- commands ----

    /// <summary>
    /// A 'str' member with the 'base64' feature: the agent's dispatcher hands it to the handler
    /// as <c>QapiBase64</c> (the text's UTF-8 bytes in a pooled buffer) instead of a string.
    /// </summary>
    public static bool IsBase64(QapiMember m)
    {
        if (m.Type.IsArray || m.Type.Name != "str")
        {
            return false;
        }
        foreach (var f in m.Features)
        {
            if (f.Name == "base64")
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>True when a non-boxed command has an argument member with the 'base64' feature.</summary>
    public bool HasBase64Arguments(QapiCommand c)
    {
        if (c.Boxed)
        {
            return false;
        }
        foreach (var m in CommandMembers(c))
        {
            if (IsBase64(m))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The struct a command returns when it has 'base64' members (the agent's handler returns
    /// it as <see cref="BytesTypeName"/>, with those members as bytes), else null.
    /// </summary>
    public QapiStruct? Base64Return(QapiCommand c)
    {
        if (c.Returns is null || c.Returns.IsArray || Find(c.Returns.Name) is not QapiStruct s)
        {
            return null;
        }
        foreach (var m in s.AllMembers)
        {
            if (IsBase64(m))
            {
                return s;
            }
        }
        return null;
    }

    /// <summary>The dispatcher's form of a struct with 'base64' members: those members as <c>QapiBytes</c>.</summary>
    public string BytesTypeName(QapiStruct s) => TypeName(s.Name) + "Bytes";

    /// <summary>C# type a command's handler returns (without the ValueTask), or null when it returns nothing.</summary>
    public string? HandlerReturnType(QapiCommand c) =>
        Base64Return(c) is { } s ? BytesTypeName(s) : c.Returns is null ? null : CsType(c.Returns);

    /// <summary>C# type of a command member in the agent's handler interface.</summary>
    public string HandlerMemberType(QapiMember m) =>
        IsBase64(m) ? "QapiBase64" + (m.Optional ? "?" : string.Empty) : MemberType(m);

    /// <summary>The members a command's parameters come from (empty when it takes none).</summary>
    public EquatableArray<QapiMember> CommandMembers(QapiCommand c) =>
        c.Arguments is null ? EquatableArray<QapiMember>.Empty : StructMembers(c.Arguments);

    /// <summary>Members ordered for a C# signature with defaults: required first, then optional.</summary>
    public static List<QapiMember> SignatureOrder(EquatableArray<QapiMember> members)
    {
        var list = new List<QapiMember>();
        foreach (var m in members)
        {
            if (!m.Optional)
            {
                list.Add(m);
            }
        }
        foreach (var m in members)
        {
            if (m.Optional)
            {
                list.Add(m);
            }
        }
        return list;
    }

    /// <summary>"new T(required...) { Optional = optional, ... }" from locals named by <paramref name="local"/>.</summary>
    public string Construct(string typeName, EquatableArray<QapiMember> members, Func<QapiMember, string> local)
    {
        var req = new List<string>();
        var init = new List<string>();
        foreach (var m in members)
        {
            if (m.Optional)
            {
                init.Add(PropertyName(m.Name, typeName) + " = " + local(m));
            }
            else
            {
                req.Add(local(m));
            }
        }
        string s = "new " + typeName + "(" + string.Join(", ", req) + ")";
        if (init.Count > 0)
        {
            s += " { " + string.Join(", ", init) + " }";
        }
        return s;
    }
}

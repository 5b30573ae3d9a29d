using System.Collections.Generic;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Emit;

/// <summary>
/// Backend "dispatch" (agent side):
/// <list type="bullet">
/// <item><c>IQgaCommandHandler</c>: one method per command, <c>ValueTask&lt;R&gt; {Command}Async(args..., CancellationToken)</c>
/// with the argument members in schema order (optional ones nullable; boxed commands take the argument type).</item>
/// <item><c>QgaCommandTable.All</c>: name, success-response, condition, features and capabilities of every command.</item>
/// <item><c>QgaDispatcher</c>: command name + "arguments" → unmarshal (QEMU's texts) → handler → return value
/// written to a Utf8JsonWriter ({} when none). Commands whose condition is false on the platform are
/// "not found", like the stock agent.</item>
/// </list>
/// </summary>
internal static class DispatchEmitter
{
    public static string Emit(TypeMap map)
    {
        var w = new SourceWriter();
        var usings = new List<string> { "System", "System.Collections.Generic", "System.Text.Json", "System.Threading", "System.Threading.Tasks", "QemuGuest.Protocol", "QemuGuest.Protocol.Marshalling", "QemuGuest.Protocol.Validation" };
        if (map.TypesNamespace != map.Namespace)
        {
            usings.Add(map.TypesNamespace);
        }
        w.Banner("dispatch", usings.ToArray());
        w.Line("namespace " + map.Namespace + ";");
        var commands = new List<QapiCommand>(map.Schema.Commands);
        var conditions = new List<string>();

        // ---- handler interface ----
        w.Line();
        w.Line("/// <summary>The native implementation of every command; the generated dispatcher calls it.</summary>");
        w.Open("public partial interface IQgaCommandHandler");
        bool first = true;
        foreach (var c in commands)
        {
            if (!first)
            {
                w.Line();
            }
            first = false;
            DocWriter.Entity(w, c, "Implements <c>" + c.Name + "</c>.");
            w.Line(HandlerSignature(map, c) + ";");
        }
        w.Close();

        // ---- command table ----
        w.Line();
        w.Line("/// <summary>Every command of the schema, in schema order, with what the agent's policy needs.</summary>");
        w.Open("public static partial class QgaCommandTable");
        w.Line("/// <summary>All commands, including those whose condition is false on this platform.</summary>");
        w.Open("public static IReadOnlyList<QgaCommandInfo> All { get; } = new QgaCommandInfo[]");
        foreach (var c in commands)
        {
            w.Line(TypeMap.CommandInfoExpr(c) + ",");
        }
        w.Close(";");
        w.Line();
        w.Line("/// <summary>The config symbols a condition may name (the generator rejects any other): a QgaPlatform must define only these.</summary>");
        w.Line("public static IReadOnlyList<string> ConfigSymbols { get; } = new string[] { " + string.Join(", ", System.Linq.Enumerable.Select(Planning.ConfigSymbols.Known, s => "\"" + s + "\"")) + " };");
        w.Close();

        // ---- return values with 'base64' members ----
        var bytesStructs = new List<string>();
        foreach (var c in commands)
        {
            if (map.Base64Return(c) is { } s && !bytesStructs.Contains(s.Name))
            {
                bytesStructs.Add(s.Name);
                EmitBytesStruct(w, map, s);
            }
        }

        // ---- dispatcher ----
        w.Line();
        w.Line("/// <summary>Unmarshals a command's arguments, calls the handler and marshals its return value.</summary>");
        w.Open("public sealed partial class QgaDispatcher");
        w.Line("private readonly IQgaCommandHandler _handler;");
        w.Line("private readonly Dictionary<string, int> _available = new(StringComparer.Ordinal);");
        w.Line();
        w.Open("public QgaDispatcher(IQgaCommandHandler handler, QgaPlatform platform)");
        w.Line("_handler = handler ?? throw new ArgumentNullException(nameof(handler));");
        w.Line("Platform = platform ?? throw new ArgumentNullException(nameof(platform));");
        w.Line("var all = QgaCommandTable.All;");
        w.Open("for (int i = 0; i < all.Count; i++)");
        w.Open("if (all[i].IsAvailableOn(platform))");
        w.Line("_available[all[i].Name] = i;");
        w.Close();
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <summary>The platform whose config symbols decide which commands exist.</summary>");
        w.Line("public QgaPlatform Platform { get; }");
        w.Line();
        w.Line("/// <summary>The command if it exists on this platform, else null (\"has not been found\").</summary>");
        w.Line("public QgaCommandInfo? Find(string command) => _available.TryGetValue(command, out int i) ? QgaCommandTable.All[i] : null;");
        w.Line();
        w.Line("/// <summary>The commands that exist on this platform, in schema order (for guest-info).</summary>");
        w.Open("public IEnumerable<QgaCommandInfo> AvailableCommands");
        w.Open("get");
        w.Open("foreach (var c in QgaCommandTable.All)");
        w.Open("if (_available.ContainsKey(c.Name))");
        w.Line("yield return c;");
        w.Close();
        w.Close();
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Runs <paramref name=\"command\"/>: unmarshals <paramref name=\"arguments\"/> (null when the request had");
        w.Line("/// none), calls the handler, writes the return value ({} when none) to <paramref name=\"writer\"/>.");
        w.Line("/// Throws QgaCommandNotFoundException for an unknown command, QapiUnmarshalException for bad arguments");
        w.Line("/// (its message is QEMU's GenericError text), and whatever the handler throws.");
        w.Line("/// </summary>");
        w.Open("public async ValueTask DispatchAsync(string command, JsonElement? arguments, Utf8JsonWriter writer, CancellationToken cancellationToken)");
        w.Open("if (!_available.ContainsKey(command))");
        w.Line("throw new QgaCommandNotFoundException(command, QapiErrorTexts.CommandNotFound(command));");
        w.Close();
        w.Open("if (arguments is { } a && a.ValueKind != JsonValueKind.Object)");
        w.Line("throw new QapiUnmarshalException(QapiErrorTexts.ArgumentsNotObject);");
        w.Close();
        w.Line("JsonElement args = arguments ?? QapiJson.EmptyObject;");
        w.Open("switch (command)");
        foreach (var c in commands)
        {
            w.Open("case " + TypeMap.Literal(c.Name) + ":");
            EmitCase(w, map, c, conditions);
            w.Line("return;");
            w.Close();
        }
        w.Line("default:");
        w.Line("    throw new QgaCommandNotFoundException(command, QapiErrorTexts.CommandNotFound(command));");
        w.Close();
        w.Close();
        if (conditions.Count > 0)
        {
            w.Line();
            w.Line("// Conditions of argument members and enum values: false on this platform means the stock agent");
            w.Line("// built for it would not know them (\"is unexpected\" / \"does not accept value\").");
            for (int i = 0; i < conditions.Count; i++)
            {
                w.Line("private static readonly QgaCondition Condition" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + " = " + conditions[i] + ";");
            }
        }
        w.Close();
        return w.ToString();
    }

    private static string SafeParameter(string name) => name == "cancellationToken" ? name + "Argument" : name;

    internal static string HandlerSignature(TypeMap map, QapiCommand c)
    {
        var ps = new List<string>();
        if (c.Arguments is not null)
        {
            if (c.Boxed)
            {
                ps.Add(map.TypeName(c.Arguments) + " arguments");
            }
            else
            {
                foreach (var m in map.CommandMembers(c))
                {
                    ps.Add(map.HandlerMemberType(m) + " " + SafeParameter(TypeMap.ParameterName(m.Name)));
                }
            }
        }
        ps.Add("CancellationToken cancellationToken");
        string ret = map.HandlerReturnType(c) is { } r ? "ValueTask<" + r + ">" : "ValueTask";
        return ret + " " + TypeMap.CommandMethod(c) + "(" + string.Join(", ", ps) + ")";
    }

    private static string Condition(List<string> conditions, QapiCondition c)
    {
        string expr = TypeMap.ConditionExpr(c);
        int i = conditions.IndexOf(expr);
        if (i < 0)
        {
            conditions.Add(expr);
            i = conditions.Count - 1;
        }
        return "Condition" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Top-level argument members and enum values under a condition that is false on the platform are
    /// refused like the stock agent built for it would (after a successful parse, as its checks run).
    /// Nested (inside lists or structs) conditional values are not checked here.
    /// </summary>
    private static void EmitConditionChecks(SourceWriter w, TypeMap map, QapiCommand c, System.Func<QapiMember, string> valueOf, List<string> conditions)
    {
        foreach (var m in map.CommandMembers(c))
        {
            string prop = valueOf(m);
            string lit = TypeMap.Literal(m.Name);
            if (m.If is not null && m.Optional)
            {
                w.Open("if (" + prop + " is not null && !" + Condition(conditions, m.If) + ".Evaluate(Platform))");
                w.Line("throw new QapiUnmarshalException(QapiErrorTexts.Unexpected(" + lit + "));");
                w.Close();
            }
            if (m.Type.IsArray)
            {
                continue;
            }
            if (map.Find(m.Type.Name) is QapiEnum en)
            {
                foreach (var v in en.Values)
                {
                    if (v.If is null)
                    {
                        continue;
                    }
                    string value = map.TypeName(en.Name) + "." + Naming.ToPascalCase(v.Name);
                    w.Open("if (" + prop + " == " + value + " && !" + Condition(conditions, v.If) + ".Evaluate(Platform))");
                    w.Line("throw new QapiUnmarshalException(QapiErrorTexts.EnumValue(" + lit + ", " + TypeMap.Literal(v.Name) + "));");
                    w.Close();
                }
            }
            else if (map.Find(m.Type.Name) is QapiAlternate alt)
            {
                foreach (var a in alt.Alternatives)
                {
                    if (a.Type.IsArray || map.Find(a.Type.Name) is not QapiEnum aen)
                    {
                        continue;
                    }
                    foreach (var v in aen.Values)
                    {
                        if (v.If is null)
                        {
                            continue;
                        }
                        string value = map.TypeName(aen.Name) + "." + Naming.ToPascalCase(v.Name);
                        string caseType = map.TypeName(alt.Name) + "." + Naming.ToPascalCase(a.Name) + "Case";
                        w.Open("if (" + prop + " is " + caseType + " { Value: " + value + " } && !" + Condition(conditions, v.If) + ".Evaluate(Platform))");
                        w.Line("throw new QapiUnmarshalException(QapiErrorTexts.EnumValue(" + lit + ", " + TypeMap.Literal(v.Name) + "));");
                        w.Close();
                    }
                }
            }
        }
    }

    private static void EmitCase(SourceWriter w, TypeMap map, QapiCommand c, List<string> conditions)
    {
        var call = new List<string>();
        if (c.Arguments is null)
        {
            w.Line("QapiJson.CheckUnexpected(args, QapiPath.Root, Array.Empty<string>());");
        }
        else
        {
            string argType = map.TypeName(c.Arguments);
            if (map.HasBase64Arguments(c))
            {
                EmitBase64Case(w, map, c, argType, conditions);
                return;
            }
            w.Line("var parsed = " + argType + ".ReadJson(args, QapiPath.Root);");
            if (!c.Boxed)
            {
                EmitConditionChecks(w, map, c, m => "parsed." + TypeMap.PropertyName(m.Name, argType), conditions);
            }
            if (c.Boxed)
            {
                call.Add("parsed");
            }
            else
            {
                foreach (var m in map.CommandMembers(c))
                {
                    call.Add("parsed." + TypeMap.PropertyName(m.Name, argType));
                }
            }
        }
        EmitCallAndReturn(w, map, c, call);
    }

    /// <summary>
    /// A command with 'base64' argument members: the argument struct's reader, inline, with those
    /// members read as <c>QapiBase64</c> straight from the request's bytes (same members, same
    /// order of checks, same texts), and their pooled buffers returned once the handler is done.
    /// </summary>
    private static void EmitBase64Case(SourceWriter w, TypeMap map, QapiCommand c, string argType, List<string> conditions)
    {
        w.Line("JsonElement element = args;");
        w.Line("QapiPath path = QapiPath.Root;");
        w.Line("QapiJson.ExpectObject(element, path);");
        TypesEmitter.ReadMembers(w, map, map.CommandMembers(c), base64AsBytes: true);
        w.Line("QapiJson.CheckUnexpected(element, path, " + argType + ".WireMembers);");
        w.Open("try");
        EmitConditionChecks(w, map, c, m => TypeMap.LocalName(m.Name), conditions);
        var call = new List<string>();
        foreach (var m in map.CommandMembers(c))
        {
            call.Add(TypeMap.LocalName(m.Name));
        }
        EmitCallAndReturn(w, map, c, call);
        w.Close();
        w.Open("finally");
        foreach (var m in map.CommandMembers(c))
        {
            if (TypeMap.IsBase64(m))
            {
                w.Line(TypeMap.LocalName(m.Name) + (m.Optional ? "?" : string.Empty) + ".Dispose();");
            }
        }
        w.Close();
    }

    private static void EmitCallAndReturn(SourceWriter w, TypeMap map, QapiCommand c, List<string> call)
    {
        call.Add("cancellationToken");
        string invoke = "_handler." + TypeMap.CommandMethod(c) + "(" + string.Join(", ", call) + ").ConfigureAwait(false)";
        if (c.Returns is null)
        {
            w.Line("await " + invoke + ";");
            w.Line("writer.WriteStartObject();");
            w.Line("writer.WriteEndObject();");
        }
        else if (map.Base64Return(c) is not null)
        {
            w.Line("using var result = await " + invoke + ";");
            w.Line("result.WriteJson(writer);");
        }
        else
        {
            w.Line("var result = await " + invoke + ";");
            w.Line(map.WriteStatement(c.Returns, "writer", "result"));
        }
    }

    /// <summary>
    /// The handler's return type for a struct with 'base64' members: the same members, those as
    /// <c>QapiBytes</c> that <c>WriteJson</c> encodes straight into the reply (the same text as the
    /// string the types backend would write: standard alphabet, padded, nothing to escape), and
    /// whose buffers <c>Dispose</c> gives back. A 48 MiB guest-file-read thus never becomes a
    /// 128 MiB UTF-16 string.
    /// </summary>
    private static void EmitBytesStruct(SourceWriter w, TypeMap map, QapiStruct s)
    {
        string name = map.BytesTypeName(s);
        w.Line();
        w.Line("/// <summary><see cref=\"" + map.TypeName(s.Name) + "\"/> as the agent's handler returns it: 'base64' members as bytes.</summary>");
        w.Open("public sealed partial class " + name + " : IDisposable");
        var ps = new List<string>();
        foreach (var m in s.AllMembers)
        {
            if (!m.Optional)
            {
                ps.Add(BytesMemberType(map, m) + " " + SafeParameter(TypeMap.ParameterName(m.Name)));
            }
        }
        w.Open("public " + name + "(" + string.Join(", ", ps) + ")");
        foreach (var m in s.AllMembers)
        {
            if (m.Optional)
            {
                continue;
            }
            string p = SafeParameter(TypeMap.ParameterName(m.Name));
            string prop = TypeMap.PropertyName(m.Name, name);
            w.Line(TypeMap.IsBase64(m) || !map.IsValueType(m.Type)
                ? prop + " = " + p + " ?? throw new ArgumentNullException(nameof(" + p + "));"
                : prop + " = " + p + ";");
        }
        w.Close();
        foreach (var m in s.AllMembers)
        {
            w.Line();
            w.Line("/// <summary>Wire member \"" + m.Name + "\"" + (m.Optional ? " (optional)." : ".") + "</summary>");
            w.Line("public " + BytesMemberType(map, m) + (m.Optional ? "?" : string.Empty) + " " + TypeMap.PropertyName(m.Name, name) + " { get; init; }");
        }
        w.Line();
        w.Line("/// <summary>Writes this value as a JSON object, 'base64' members encoded straight into the writer.</summary>");
        w.Open("public void WriteJson(Utf8JsonWriter writer)");
        w.Line("writer.WriteStartObject();");
        foreach (var m in s.AllMembers)
        {
            string prop = TypeMap.PropertyName(m.Name, name);
            string value = prop;
            if (m.Optional)
            {
                value = TypeMap.LocalName(m.Name);
                w.Open("if (" + prop + " is { } " + value + ")");
            }
            w.Line("writer.WritePropertyName(" + TypeMap.Literal(m.Name) + ");");
            w.Line(TypeMap.IsBase64(m)
                ? "writer.WriteBase64StringValue(" + value + ".Span);"
                : map.WriteStatement(m.Type, "writer", value));
            if (m.Optional)
            {
                w.Close();
            }
        }
        w.Line("writer.WriteEndObject();");
        w.Close();
        w.Line();
        w.Line("/// <summary>Gives the buffers of the 'base64' members back.</summary>");
        w.Open("public void Dispose()");
        foreach (var m in s.AllMembers)
        {
            if (TypeMap.IsBase64(m))
            {
                w.Line(TypeMap.PropertyName(m.Name, name) + (m.Optional ? "?" : string.Empty) + ".Dispose();");
            }
        }
        w.Close();
        w.Close();
    }

    private static string BytesMemberType(TypeMap map, QapiMember m) =>
        TypeMap.IsBase64(m) ? "QapiBytes" : map.CsType(m.Type);
}

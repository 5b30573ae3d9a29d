using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using QemuGuest.Generator.Planning;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Emit;

/// <summary>
/// Backend "cmdlets": one <c>public sealed partial class {Verb}{Noun}Command : GuestCmdlet</c> per
/// command of the <see cref="CmdletPlan"/>. Parameters come from the argument members (typed;
/// optional ones nullable, SwitchParameter for optional bools, sent only when bound; enums as
/// string + ValidateSet of wire names; alternates as string converted by form; structs as objects
/// built from the record, a hashtable or any object's properties), all ValueFromPipelineByPropertyName.
/// Output: the generated records (list elements one by one); a scalar result is wrapped in a
/// PSObject with one property (<see cref="CmdletPlanner.ScalarProperty"/>) and a PSTypeName
/// "QemuGuest.Cmdlets.{Command}Result". Commands without a success response use the client's
/// no-response method. Never names a System.Text.Json type (the module loads it privately).
/// </summary>
internal static class CmdletsEmitter
{
    private static readonly Dictionary<string, string> VerbClasses = BuildVerbClasses();

    public static string Emit(TypeMap map, CmdletPlan plan)
    {
        var w = new SourceWriter();
        var usings = new List<string>
        {
            "System", "System.Collections.Generic", "System.Management.Automation", "System.Threading.Tasks",
            "QemuGuest.Cmdlets.Infrastructure", map.TypesNamespace,
        };
        w.Banner("cmdlets", usings.ToArray());
        w.Line("namespace " + map.Namespace + ";");
        var structs = new SortedSet<string>(System.StringComparer.Ordinal);
        var alternates = new SortedSet<string>(System.StringComparer.Ordinal);
        var enums = new SortedSet<string>(System.StringComparer.Ordinal);
        foreach (var c in plan.Cmdlets)
        {
            var cmd = map.Schema.Find<QapiCommand>(c.Command)!;
            w.Line();
            EmitCmdlet(w, map, plan, cmd, c);
            foreach (var p in c.Parameters)
            {
                Collect(map, p.Type, structs, alternates, enums);
            }
        }
        w.Line();
        EmitConverters(w, map, structs, alternates, enums);
        return w.ToString();
    }

    // ---- one cmdlet ----

    private static void EmitCmdlet(SourceWriter w, TypeMap map, CmdletPlan plan, QapiCommand cmd, CmdletInfo c)
    {
        var (synopsis, description) = HelpText.SynopsisAndDescription(plan, cmd, c);
        w.Line("/// <summary>");
        w.Line("/// <para type=\"synopsis\">" + OneLine(synopsis) + "</para>");
        w.Line("/// <para type=\"description\">" + OneLine(description) + "</para>");
        w.Line("/// </summary>");
        w.Line("/// <remarks>Generated from the schema command <c>" + DocWriter.Escape(cmd.Name) + "</c>.</remarks>");
        string verb = VerbClasses.TryGetValue(c.Verb, out var cls) ? cls + "." + c.Verb : TypeMap.Literal(c.Verb);
        var attr = new StringBuilder("[Cmdlet(" + verb + ", " + TypeMap.Literal(c.Noun) + ", DefaultParameterSetName = GuestCmdlet.SessionParameterSet");
        if (c.ConfirmImpact is not null)
        {
            attr.Append(", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact." + c.ConfirmImpact);
        }
        w.Line(attr.Append(")]").ToString());
        string? outType = OutputType(map, cmd, c);
        if (c.IsTest)
        {
            w.Line("[OutputType(typeof(bool))]");
            w.Line("[OutputType(" + TypeMap.Literal(c.TestResultTypeName) + ")]");
        }
        else if (outType is not null)
        {
            w.Line("[OutputType(" + outType + ")]");
        }
        w.Open("public sealed partial class " + c.ClassName + " : GuestCmdlet");
        w.Line("/// <summary>The wire name of the guest agent command this cmdlet runs.</summary>");
        w.Line("internal const string QgaCommandName = " + TypeMap.Literal(cmd.Name) + ";");
        if (!c.Fixed.IsEmpty)
        {
            var fixedText = new List<string>();
            foreach (var f in c.Fixed)
            {
                fixedText.Add(f.Member + "=" + f.Value);
            }
            w.Line();
            w.Line("/// <summary>The arguments this variant of the command's cmdlet sends with fixed values.</summary>");
            w.Line("internal const string QgaFixedArguments = " + TypeMap.Literal(string.Join(",", fixedText)) + ";");
        }
        foreach (var p in c.Parameters)
        {
            w.Line();
            EmitParameter(w, map, plan, cmd, c, p);
        }
        if (c.Credential is not null)
        {
            w.Line();
            EmitCredential(w, c);
        }
        if (c.IsTest)
        {
            w.Line();
            DocWriter.Tag(w, "summary", "Output an object per target (VMName, Succeeded, ResponseTime, Reply, Error) instead of $true or $false.");
            w.Lines($$"""
                [Parameter]
                public SwitchParameter Detailed { get; set; }

                /// <summary>A target that cannot be reached fails the test: $false (the reason on the verbose stream), not an error.</summary>
                protected override void OnTargetUnavailable(string target, ErrorRecord record)
                {
                    WriteVerbose(GeneratedCmdletSupport.TestFailure(target, record));
                    WriteObject(GeneratedCmdletSupport.TestAnswer({{TypeMap.Literal(c.TestResultTypeName)}}, target, Detailed.IsPresent, TimeSpan.Zero, null, record));
                }
                """);
        }
        if (c.ConfirmImpact is not null)
        {
            w.Line();
            w.Line("/// <summary>What -WhatIf and -Confirm show.</summary>");
            var parts = new List<string> { TypeMap.Literal(c.Name + " (" + cmd.Name + ")") };
            foreach (var f in c.Fixed)
            {
                parts.Add(TypeMap.Literal(Naming.ToPascalCase(f.Member)));
                parts.Add(TypeMap.Literal(f.Value));
            }
            foreach (var p in c.Parameters)
            {
                parts.Add(TypeMap.Literal(p.Name));
                parts.Add(p.Secret ? "(object?)null"
                    : p.Kind == CmdletParameterKind.Switch ? "(MyInvocation.BoundParameters.ContainsKey(" + TypeMap.Literal(p.Name) + ") ? (object)" + p.Name + ".IsPresent : null)"
                    : p.Kind == CmdletParameterKind.RequiredSwitch ? "(object)" + p.Name + ".IsPresent"
                    : c.Credential?.UserMember == p.Member ? "(Credential is null ? " + p.Name + " : Credential.UserName)"
                    : p.Name);
            }
            w.Line("protected override string? ShouldProcessAction => GeneratedCmdletSupport.Describe(" + string.Join(", ", parts) + ");");
        }
        w.Line();
        EmitCreateOperation(w, map, cmd, c);
        w.Close();
    }

    private static string? OutputType(TypeMap map, QapiCommand cmd, CmdletInfo c)
    {
        if (cmd.Returns is null || !cmd.SuccessResponse)
        {
            return null;
        }
        if (c.ScalarProperty is not null)
        {
            return TypeMap.Literal(c.ScalarTypeName);
        }
        if (CmdletPlanner.UnwrapMember(map, cmd, c) is { } list)
        {
            return "typeof(" + Qualified(map, list.Type.Name) + ")";
        }
        return "typeof(" + Qualified(map, cmd.Returns.Name) + ")";
    }

    private static string ParameterType(TypeMap map, CmdletParameter p)
    {
        string t = p.Kind switch
        {
            CmdletParameterKind.Switch or CmdletParameterKind.RequiredSwitch => "SwitchParameter",
            CmdletParameterKind.Bool => "bool",
            CmdletParameterKind.SecureBase64 => "global::System.Security.SecureString",
            CmdletParameterKind.DateTimeNanoseconds or CmdletParameterKind.DateTimeSeconds => "global::System.DateTimeOffset",
            CmdletParameterKind.Enum or CmdletParameterKind.Alternate => "string",
            CmdletParameterKind.Struct => "object",
            _ => map.CsType(p.Type.Name),
        };
        if (p.Type.IsArray)
        {
            return t + "[]" + (p.Optional ? "?" : string.Empty);
        }
        if (p.Kind is CmdletParameterKind.Switch or CmdletParameterKind.RequiredSwitch)
        {
            return t;
        }
        return t + (p.Optional ? "?" : string.Empty);
    }

    private static string Initializer(CmdletParameter p, string type)
    {
        if (p.Optional || p.Kind is CmdletParameterKind.Switch or CmdletParameterKind.RequiredSwitch or CmdletParameterKind.Bool)
        {
            return string.Empty;
        }
        if (p.Type.IsArray)
        {
            return " = global::System.Array.Empty<" + type.Substring(0, type.Length - 2) + ">();";
        }
        return type switch
        {
            "string" => " = string.Empty;",
            "object" or "global::System.Security.SecureString" => " = null!;",
            _ => string.Empty,
        };
    }

    private static void EmitParameter(SourceWriter w, TypeMap map, CmdletPlan plan, QapiCommand cmd, CmdletInfo c, CmdletParameter p)
    {
        string doc = HelpText.Render(plan, cmd, p.Doc);
        if (p.Kind == CmdletParameterKind.Struct)
        {
            doc += "\nGive " + map.CsType(p.Type.Name) + " objects (e.g. from the matching Get- cmdlet), hashtables or objects with the members as properties ("
                + StructMemberList(map, p.Type.Name) + ").";
        }
        else if (p.Kind == CmdletParameterKind.Alternate)
        {
            doc += "\nAccepts " + AlternateForms(map, p.Type.Name) + ".";
        }
        if (HelpText.FormNote(c, p) is { } note)
        {
            doc = HelpText.Sentence(doc) + "\n" + note;
        }
        DocWriter.Tag(w, "summary", doc);
        var args = new List<string>();
        if (!p.Optional && p.Kind != CmdletParameterKind.RequiredSwitch)
        {
            args.Add("Mandatory = true");
        }
        if (p.Position is { } pos)
        {
            args.Add("Position = " + pos.ToString(CultureInfo.InvariantCulture));
        }
        args.Add("ValueFromPipelineByPropertyName = true");
        if (c.Credential is { } cred && (p.Member == cred.UserMember || p.Member == cred.PasswordMember))
        {
            // Only in the default sets: -Credential (its own sets) replaces both.
            foreach (var set in new[] { "GuestCmdlet.SessionParameterSet", "GuestCmdlet.VMNameParameterSet" })
            {
                w.Line("[Parameter(ParameterSetName = " + set + ", " + string.Join(", ", args) + ")]");
            }
        }
        else
        {
            w.Line("[Parameter(" + string.Join(", ", args) + ")]");
        }
        if (p.Aliases.Count > 0)
        {
            var a = new List<string>();
            foreach (var x in p.Aliases)
            {
                a.Add(TypeMap.Literal(x));
            }
            w.Line("[Alias(" + string.Join(", ", a) + ")]");
        }
        if (p.ValidValues.Count > 0)
        {
            var a = new List<string>();
            foreach (var x in p.ValidValues)
            {
                a.Add(TypeMap.Literal(x));
            }
            w.Line("[ValidateSet(" + string.Join(", ", a) + ")]");
        }
        if (!p.Optional && p.Kind is CmdletParameterKind.Struct or CmdletParameterKind.Alternate)
        {
            w.Line("[ValidateNotNull]");
        }
        string type = ParameterType(map, p);
        w.Line("public " + type + " " + p.Name + " { get; set; }" + Initializer(p, type));
    }

    /// <summary>
    /// -Credential in its own two sets (with -Session, with -VMName). GuestCmdlet's -Session and
    /// -VMName are re-declared (hiding them; PowerShell binds the most derived) so that each is in
    /// its default set and in its credential set.
    /// </summary>
    private static void EmitCredential(SourceWriter w, CmdletInfo c)
    {
        var cred = c.Credential!;
        string user = "-" + ParameterName(c, cred.UserMember);
        string password = "-" + ParameterName(c, cred.PasswordMember);
        DocWriter.Tag(w, "summary", "A credential instead of " + user + " and " + password + ": its user name and password (Get-Credential prompts for both).");
        w.Lines("""
            [Parameter(ParameterSetName = GuestCmdlet.SessionCredentialParameterSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
            [Parameter(ParameterSetName = GuestCmdlet.VMNameCredentialParameterSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
            [Credential]
            [ValidateNotNull]
            public PSCredential Credential { get; set; } = null!;

            /// <summary>Sessions from New-VMGuestSession / Get-VMGuestSession.</summary>
            [Parameter(ParameterSetName = GuestCmdlet.SessionParameterSet, Mandatory = true, ValueFromPipeline = true)]
            [Parameter(ParameterSetName = GuestCmdlet.SessionCredentialParameterSet, Mandatory = true, ValueFromPipeline = true)]
            [ValidateNotNullOrEmpty]
            public new global::QemuGuest.Cmdlets.Sessions.GuestSession[] Session { get => base.Session; set => base.Session = value; }

            /// <summary>VM names: an open session with that name, or else the relay's endpoint for that VM. Also bound from the VMName property of piped objects (every output object has one).</summary>
            [Parameter(ParameterSetName = GuestCmdlet.VMNameParameterSet, Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
            [Parameter(ParameterSetName = GuestCmdlet.VMNameCredentialParameterSet, Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
            [ValidateNotNullOrEmpty]
            [ArgumentCompleter(typeof(global::QemuGuest.Cmdlets.Sessions.VMNameCompleter))]
            public new VMNameArgument[] VMName { get => base.VMName; set => base.VMName = value; }
            """);
    }

    private static string ParameterName(CmdletInfo c, string member)
    {
        foreach (var p in c.Parameters)
        {
            if (p.Member == member)
            {
                return p.Name;
            }
        }
        return Naming.ToPascalCase(member);
    }

    private static string StructMemberList(TypeMap map, string structName)
    {
        var parts = new List<string>();
        foreach (var m in map.StructMembers(structName))
        {
            parts.Add(TypeMap.PropertyName(m.Name, map.TypeName(structName)) + (m.Optional ? " (optional)" : string.Empty));
        }
        return string.Join(", ", parts);
    }

    private static string AlternateForms(TypeMap map, string name)
    {
        var a = map.Schema.Find<QapiAlternate>(name)!;
        var parts = new List<string>();
        foreach (var v in a.Alternatives)
        {
            if (map.Schema.Find<QapiEnum>(v.Type.Name) is { } e)
            {
                var names = new List<string>();
                foreach (var ev in e.Values)
                {
                    names.Add(ev.Name);
                }
                parts.Add("one of " + string.Join(", ", names));
            }
            else
            {
                parts.Add(v.Type.Name switch { "bool" => "true or false", "str" => "any text", _ => "a number" });
            }
        }
        return string.Join("; or ", parts);
    }

    private static void EmitCreateOperation(SourceWriter w, TypeMap map, QapiCommand cmd, CmdletInfo c)
    {
        w.Line("/// <inheritdoc/>");
        w.Open("protected override GuestOperation? CreateOperation()");
        var needsTry = new List<CmdletParameter>();
        foreach (var p in c.Parameters)
        {
            string local = Local(p);
            switch (p.Kind)
            {
                case CmdletParameterKind.Switch:
                    w.Line("bool? " + local + " = MyInvocation.BoundParameters.ContainsKey(" + TypeMap.Literal(p.Name) + ") ? " + p.Name + ".IsPresent : null;");
                    break;
                case CmdletParameterKind.RequiredSwitch:
                    w.Line("bool " + local + " = " + p.Name + ".IsPresent;");
                    break;
                case CmdletParameterKind.SecureBase64:
                    // Encoded per call inside the operation, so the wire text lives only as long as the call.
                    w.Line("var " + local + "Secret = " + (c.Credential?.PasswordMember == p.Member ? "Credential is null ? " + p.Name + " : Credential.Password" : p.Name) + ";");
                    break;
                case CmdletParameterKind.DateTimeNanoseconds:
                case CmdletParameterKind.DateTimeSeconds:
                {
                    string unit = p.Kind == CmdletParameterKind.DateTimeSeconds ? "ToUnixSeconds" : "ToUnixNanoseconds";
                    string cs = map.CsType(p.Type.Name);
                    w.Line(cs + (p.Optional ? "? " : " ") + local + ";");
                    needsTry.Add(p);
                    break;
                }
                case CmdletParameterKind.Scalar when c.Credential?.UserMember == p.Member:
                    w.Line("var " + local + " = Credential is null ? " + p.Name + " : Credential.UserName;");
                    break;
                case CmdletParameterKind.Scalar:
                case CmdletParameterKind.Bool:
                    if (p.Type.IsArray)
                    {
                        w.Line("IReadOnlyList<" + map.CsType(p.Type.Name) + ">" + (p.Optional ? "?" : string.Empty) + " " + local + " = " + p.Name + ";");
                    }
                    else
                    {
                        w.Line("var " + local + " = " + p.Name + ";");
                    }
                    break;
                default:
                    w.Line(ArgType(map, p) + " " + local + ";");
                    needsTry.Add(p);
                    break;
            }
        }
        if (needsTry.Count > 0)
        {
            w.Open("try");
            foreach (var p in needsTry)
            {
                if (p.Kind is CmdletParameterKind.DateTimeNanoseconds or CmdletParameterKind.DateTimeSeconds)
                {
                    string convert = "(" + map.CsType(p.Type.Name) + ")GeneratedCmdletSupport." + (p.Kind == CmdletParameterKind.DateTimeSeconds ? "ToUnixSeconds" : "ToUnixNanoseconds");
                    w.Line(Local(p) + " = " + (p.Optional ? p.Name + " is null ? null : " + convert + "(" + p.Name + ".Value, " : convert + "(" + p.Name + ", ") + TypeMap.Literal(p.Name) + ");");
                    continue;
                }
                w.Line(Local(p) + " = " + ConvertExpr(map, p, p.Name, TypeMap.Literal(p.Name)) + ";");
            }
            w.Close();
            w.Open("catch (ArgumentException ex)");
            w.Line("WriteError(ErrorTable.ToErrorRecord(ex, null));");
            w.Line("return null;");
            w.Close();
        }
        foreach (var p in c.Parameters)
        {
            if (!p.GuestPath)
            {
                continue;
            }
            // Checked before anything is sent: a relative path would mean the agent's working folder.
            string check = "GeneratedCmdletSupport.RelativeGuestPath(" + Local(p) + ")";
            w.Open("if (" + check + " is { } relative_" + Local(p) + ")");
            w.Line("WriteError(ErrorTable.RelativeGuestPathError(relative_" + Local(p) + "));");
            w.Line("return null;");
            w.Close();
        }
        if (c.IsTest)
        {
            w.Line("bool testDetailed = Detailed.IsPresent;");
        }
        w.Open("return async context =>");
        w.Line("var client = new GuestAgentCommands(context.Channel);");
        foreach (var p in c.Parameters)
        {
            if (p.Kind == CmdletParameterKind.SecureBase64)
            {
                w.Line("string" + (p.Optional ? "?" : string.Empty) + " " + Local(p) + " = " + (p.Optional ? Local(p) + "Secret is null ? null : " : string.Empty) + "GeneratedCmdletSupport.SecureBase64(" + Local(p) + "Secret);");
            }
        }
        var args = new List<string>();
        if (cmd.Boxed && cmd.Arguments is not null)
        {
            // Boxed: the client takes the argument struct itself.
            var locals = new Dictionary<string, string>();
            foreach (var p in c.Parameters)
            {
                locals[p.Member] = Local(p);
            }
            foreach (var f in c.Fixed)
            {
                locals[f.Member] = TypeMap.Literal(f.Value);
            }
            args.Add("arguments: " + map.Construct(map.TypeName(cmd.Arguments), map.CommandMembers(cmd), m => locals[m.Name]));
        }
        else
        {
            foreach (var m in map.CommandMembers(cmd))
            {
                string? value = null;
                foreach (var p in c.Parameters)
                {
                    if (p.Member == m.Name)
                    {
                        value = Local(p);
                    }
                }
                foreach (var f in c.Fixed)
                {
                    if (f.Member == m.Name)
                    {
                        value = TypeMap.Literal(f.Value);
                    }
                }
                if (value is not null)
                {
                    args.Add(TypeMap.ClientParameterName(m.Name) + ": " + value);
                }
            }
        }
        args.Add("options: context.CallOptions");
        args.Add("cancellationToken: context.CancellationToken");
        string call = "client." + TypeMap.CommandMethod(cmd) + "(" + string.Join(", ", args) + ").ConfigureAwait(false)";
        if (c.IsTest)
        {
            EmitTestCall(w, map, cmd, c, call);
        }
        else if (cmd.Returns is null || !cmd.SuccessResponse)
        {
            w.Line("await " + call + ";");
        }
        else if (cmd.Returns.IsArray)
        {
            w.Line("var result = await " + call + ";");
            w.Open("foreach (var item in result)");
            w.Line("context.WriteObject(" + WithTimes(map, cmd, c, "item") + ");");
            w.Close();
        }
        else if (c.ScalarProperty is not null)
        {
            w.Line("var result = await " + call + ";");
            string value = map.Schema.Find(cmd.Returns.Name) is QapiEnum ? Qualified(map, cmd.Returns.Name) + "Extensions.ToWireName(result)"
                : c.ReturnsAs is { } form ? "GeneratedCmdletSupport." + (form == ParameterForms.DateTimeSeconds ? "FromUnixSeconds" : "FromUnixNanoseconds") + "(result)"
                : "result";
            w.Line("context.WriteObject(GeneratedCmdletSupport.Scalar(" + TypeMap.Literal(c.ScalarTypeName) + ", " + TypeMap.Literal(c.ScalarProperty) + ", " + value + "));");
        }
        else if (CmdletPlanner.UnwrapMember(map, cmd, c) is { } list)
        {
            // One pipeline object per element of the reply's only member (a list).
            w.Line("var result = await " + call + ";");
            w.Open("foreach (var item in result." + TypeMap.PropertyName(list.Name, map.TypeName(cmd.Returns.Name)) + ")");
            w.Line("context.WriteObject(item);");
            w.Close();
        }
        else
        {
            w.Line("var result = await " + call + ";");
            w.Line("context.WriteObject(" + WithTimes(map, cmd, c, "result") + ");");
        }
        w.Close(";");
        w.Close();
    }

    private static void EmitTestCall(SourceWriter w, TypeMap map, QapiCommand cmd, CmdletInfo c, string call)
    {
        string type = TypeMap.Literal(c.TestResultTypeName);
        w.Lines("""
            var clock = global::System.Diagnostics.Stopwatch.StartNew();
            object? reply = null;
            """);
        w.Open("try");
        if (cmd.Returns is null || !cmd.SuccessResponse)
        {
            w.Line("await " + call + ";");
        }
        else if (c.ScalarProperty is not null && !cmd.Returns.IsArray)
        {
            w.Line("var result = await " + call + ";");
            string value = map.Schema.Find(cmd.Returns.Name) is QapiEnum ? Qualified(map, cmd.Returns.Name) + "Extensions.ToWireName(result)" : "result";
            w.Line("reply = GeneratedCmdletSupport.Scalar(" + TypeMap.Literal(c.ScalarTypeName) + ", " + TypeMap.Literal(c.ScalarProperty) + ", " + value + ");");
        }
        else
        {
            w.Line("reply = await " + call + ";");
        }
        w.Close();
        w.Lines($$"""
            catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested)
            {
                var error = ErrorTable.ToErrorRecord(ex, context.Session.TargetName);
                context.WriteVerbose(GeneratedCmdletSupport.TestFailure(context.Session.TargetName, error));
                context.WriteObject(GeneratedCmdletSupport.TestAnswer({{type}}, context.Session.TargetName, testDetailed, clock.Elapsed, null, error));
                return;
            }
            context.WriteObject(GeneratedCmdletSupport.TestAnswer({{type}}, context.Session.TargetName, testDetailed, clock.Elapsed, reply, null));
            """);
    }

    /// <summary>The output object with its 'output-times' members shown as DateTime (note properties shadowing the wire numbers).</summary>
    private static string WithTimes(TypeMap map, QapiCommand cmd, CmdletInfo c, string item)
    {
        string e = item;
        foreach (var t in c.OutputTimes)
        {
            e = "GeneratedCmdletSupport.WithTime(" + e + ", " + TypeMap.Literal(TypeMap.PropertyName(t.Member, map.TypeName(cmd.Returns!.Name))) + ", seconds: " + (t.Form == ParameterForms.DateTimeSeconds ? "true" : "false") + ")";
        }
        return e;
    }

    private static string Local(CmdletParameter p) => "a_" + Naming.ToCamelCase(p.Member).TrimStart('@');

    /// <summary>
    /// A type's C# name, qualified for schema types: inside a cmdlet class a parameter property
    /// may have the type's name (a "Widget" parameter of type Widget[]), which would hide it.
    /// </summary>
    private static string Qualified(TypeMap map, string typeName) =>
        map.Find(typeName) is null ? map.CsType(typeName) : "global::" + map.TypesNamespace + "." + map.TypeName(typeName);

    private static string ArgType(TypeMap map, CmdletParameter p)
    {
        string element = Qualified(map, p.Type.Name);
        string t = p.Type.IsArray ? "IReadOnlyList<" + element + ">" : element;
        return t + (p.Optional ? "?" : string.Empty);
    }

    /// <summary>Expression converting parameter value <paramref name="v"/> to the argument's C# type.</summary>
    private static string ConvertExpr(TypeMap map, CmdletParameter p, string v, string parameterLiteral)
    {
        string element = ElementConverter(map, p.Type.Name);
        if (p.Type.IsArray)
        {
            string e = "GeneratedCmdletSupport.Map(" + v + ", static (x, n) => " + element + "(x, n), " + parameterLiteral + ")";
            return p.Optional ? v + " is null ? null : " + e : e;
        }
        string one = element + "(" + v + ", " + parameterLiteral + ")";
        return p.Optional ? v + " is null ? null : " + one : one;
    }

    private static string ElementConverter(TypeMap map, string typeName) => "QgaCmdletConverters.To" + map.TypeName(typeName);

    // ---- converters for enums, alternates and structs used as arguments ----

    private static void Collect(TypeMap map, QapiTypeRef t, SortedSet<string> structs, SortedSet<string> alternates, SortedSet<string> enums)
    {
        switch (map.Find(t.Name))
        {
            case QapiEnum:
                enums.Add(t.Name);
                break;
            case QapiAlternate a:
                if (alternates.Add(t.Name))
                {
                    foreach (var v in a.Alternatives)
                    {
                        Collect(map, v.Type, structs, alternates, enums);
                    }
                }
                break;
            case QapiStruct s:
                if (structs.Add(t.Name))
                {
                    foreach (var m in s.AllMembers)
                    {
                        Collect(map, m.Type, structs, alternates, enums);
                    }
                }
                break;
        }
    }

    private static void EmitConverters(SourceWriter w, TypeMap map, SortedSet<string> structs, SortedSet<string> alternates, SortedSet<string> enums)
    {
        w.Line("/// <summary>PowerShell values → argument types of the generated client (per schema type).</summary>");
        w.Open("internal static class QgaCmdletConverters");
        bool first = true;
        foreach (var name in enums)
        {
            if (!first)
            {
                w.Line();
            }
            first = false;
            var e = map.Schema.Find<QapiEnum>(name)!;
            string cs = map.TypeName(name);
            var names = new List<string>();
            foreach (var v in e.Values)
            {
                names.Add(TypeMap.Literal(v.Name));
            }
            w.Lines($$"""
                internal static readonly string[] {{cs}}Names = { {{string.Join(", ", names)}} };

                internal static {{cs}} To{{cs}}(object? value, string parameter) =>
                    {{cs}}Extensions.FromWireName(GeneratedCmdletSupport.EnumName(value, {{cs}}Names, parameter))!.Value;
                """);
        }
        foreach (var name in alternates)
        {
            if (!first)
            {
                w.Line();
            }
            first = false;
            var a = map.Schema.Find<QapiAlternate>(name)!;
            string cs = map.TypeName(name);
            w.Open("internal static " + cs + " To" + cs + "(object? value, string parameter)");
            w.Lines($$"""
                value = GeneratedCmdletSupport.Unwrap(value);
                if (value is {{cs}} typed)
                {
                    return typed;
                }
                """);
            // Try the most specific forms first: enum names, then bools, then numbers, then text.
            foreach (var pass in new[] { "enum", "bool", "number", "str" })
            {
                foreach (var v in a.Alternatives)
                {
                    string caseName = cs + "." + Naming.ToPascalCase(v.Name) + "Case";
                    var en = map.Schema.Find<QapiEnum>(v.Type.Name);
                    if (pass == "enum" && en is not null)
                    {
                        string ecs = map.TypeName(v.Type.Name);
                        w.Open("if (GeneratedCmdletSupport.TryEnumName(value, " + ecs + "Names, out var " + Naming.ToCamelCase(v.Name) + "Name))");
                        w.Line("return new " + caseName + "(" + ecs + "Extensions.FromWireName(" + Naming.ToCamelCase(v.Name) + "Name)!.Value);");
                        w.Close();
                    }
                    else if (pass == "bool" && v.Type.Name == "bool")
                    {
                        w.Open("if (GeneratedCmdletSupport.TryBool(value, out var " + Naming.ToCamelCase(v.Name) + "Bool))");
                        w.Line("return new " + caseName + "(" + Naming.ToCamelCase(v.Name) + "Bool);");
                        w.Close();
                    }
                    else if (pass == "number" && en is null && v.Type.Name is not ("bool" or "str" or "QType"))
                    {
                        string ct = map.CsType(v.Type.Name);
                        w.Open("if (GeneratedCmdletSupport.TryNumber<" + ct + ">(value, out var " + Naming.ToCamelCase(v.Name) + "Number))");
                        w.Line("return new " + caseName + "(" + Naming.ToCamelCase(v.Name) + "Number);");
                        w.Close();
                    }
                    else if (pass == "str" && v.Type.Name is "str" or "QType")
                    {
                        w.Open("if (value is string " + Naming.ToCamelCase(v.Name) + "Text)");
                        w.Line("return new " + caseName + "(" + Naming.ToCamelCase(v.Name) + "Text);");
                        w.Close();
                    }
                }
            }
            w.Line("throw GeneratedCmdletSupport.BadValue(parameter, value, " + TypeMap.Literal(AlternateForms(map, name)) + ");");
            w.Close();
        }
        foreach (var name in structs)
        {
            if (!first)
            {
                w.Line();
            }
            first = false;
            string cs = map.TypeName(name);
            var members = map.StructMembers(name);
            w.Lines($$"""
                internal static {{cs}} To{{cs}}(object? value, string parameter)
                {
                    if (GeneratedCmdletSupport.Unwrap(value) is {{cs}} typed)
                    {
                        return typed;
                    }
                    var bag = GeneratedCmdletSupport.Bag(value, parameter);
                    return {{map.Construct(cs, members, m => BagRead(map, m, cs))}};
                }
                """);
        }
        w.Close();
    }

    private static string BagRead(TypeMap map, QapiMember m, string owner)
    {
        string names = TypeMap.Literal(TypeMap.PropertyName(m.Name, owner)) + ", " + TypeMap.Literal(m.Name);
        var e = map.Find(m.Type.Name);
        bool complex = e is QapiEnum or QapiStruct or QapiAlternate;
        if (!complex)
        {
            string ct = map.CsType(m.Type.Name);
            if (m.Type.IsArray)
            {
                return "bag." + (m.Optional ? "Optional" : "Required") + "<" + ct + "[]>(" + names + ")";
            }
            if (m.Optional)
            {
                return (map.IsValueType(m.Type) ? "bag.OptionalValue<" : "bag.OptionalReference<") + ct + ">(" + names + ")";
            }
            return "bag.Required<" + ct + ">(" + names + ")";
        }
        string conv = ElementConverter(map, m.Type.Name);
        string v = "v_" + Naming.ToCamelCase(m.Name).TrimStart('@');
        string raw = "bag." + (m.Optional ? "OptionalObject" : "RequiredObject") + "(" + names + ")";
        if (m.Type.IsArray)
        {
            string mapped = "GeneratedCmdletSupport.Map(GeneratedCmdletSupport.AsArray(" + v + "), static (x, n) => " + conv + "(x, n), bag.Parameter)";
            return m.Optional
                ? "(" + raw + " is { } " + v + " ? " + mapped + " : null)"
                : "GeneratedCmdletSupport.Map(GeneratedCmdletSupport.AsArray(" + raw + "), static (x, n) => " + conv + "(x, n), bag.Parameter)";
        }
        return m.Optional
            ? "(" + raw + " is { } " + v + " ? " + conv + "(" + v + ", bag.Parameter) : null)"
            : conv + "(" + raw + ", bag.Parameter)";
    }

    // ---- misc ----

    private static string OneLine(string text) => DocWriter.Escape(Regex.Replace(text.Trim(), @"\s*\n\s*", " "));

    private static Dictionary<string, string> BuildVerbClasses()
    {
        var d = new Dictionary<string, string>(System.StringComparer.Ordinal);
        void Add(string cls, string verbs)
        {
            foreach (var v in verbs.Split(' '))
            {
                d[v] = cls;
            }
        }
        Add("VerbsCommon", "Add Clear Close Copy Enter Exit Find Format Get Hide Join Lock Move New Open Optimize Pop Push Redo Remove Rename Reset Resize Search Select Set Show Skip Split Step Switch Undo Unlock Watch");
        Add("VerbsCommunications", "Connect Disconnect Read Receive Send Write");
        Add("VerbsData", "Backup Checkpoint Compare Compress Convert ConvertFrom ConvertTo Dismount Edit Expand Export Group Import Initialize Limit Merge Mount Out Publish Restore Save Sync Unpublish Update");
        Add("VerbsDiagnostic", "Debug Measure Ping Repair Resolve Test Trace");
        Add("VerbsLifecycle", "Approve Assert Complete Confirm Deny Disable Enable Install Invoke Register Request Restart Resume Start Stop Submit Suspend Uninstall Unregister Wait");
        Add("VerbsSecurity", "Block Grant Protect Revoke Unblock Unprotect");
        Add("VerbsOther", "Use");
        return d;
    }
}

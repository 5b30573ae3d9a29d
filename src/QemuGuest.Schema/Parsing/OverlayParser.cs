using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace QemuGuest.Schema.Parsing;

/// <summary>
/// Parses and checks the PowerShell overlay (format: see Model/Overlay.cs) with the QAPI
/// lexer (plus integers, for 'position'), against a checked schema.
/// </summary>
internal static class OverlayParser
{

    private static readonly Regex CmdletName = new(@"^([A-Za-z]+)-([A-Za-z][A-Za-z0-9]*)$", RegexOptions.CultureInvariant);
    private static readonly Regex Identifier = new(@"^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant);
    private static readonly string[] Impacts = { "None", "Low", "Medium", "High" };

    public static PowerShellOverlay Parse(string path, string text, QapiSchema schema)
    {
        var result = new List<CommandOverlay>();
        var byCommand = new Dictionary<string, CommandOverlay>(StringComparer.Ordinal);
        var byCmdlet = new Dictionary<string, CommandOverlay>(StringComparer.OrdinalIgnoreCase);
        foreach (var (expr, loc) in new QapiParser(path, text, allowNumbers: true).SideFileObjects())
        {
            var o = CheckOne(expr, loc, schema);
            string context = Context(o.Command);
            if (!o.Fixed.IsEmpty)
            {
                // A variant ('fixed') is a further cmdlet of a command that has its own entry.
            }
            else if (byCommand.TryGetValue(o.Command, out var prev))
            {
                throw new SchemaError(loc, "command '" + o.Command + "' already has an overlay\n" + prev.Location + ": previous definition", context);
            }
            if (o.NoCmdlet is not null)
            {
                byCommand[o.Command] = o;
                result.Add(o);
                continue;
            }
            string cmdlet = o.Verb + "-" + o.Noun;
            if (byCmdlet.TryGetValue(cmdlet, out var other))
            {
                throw new SchemaError(loc, "cmdlet '" + cmdlet + "' is already used by command '" + other.Command + "'", context);
            }
            if (o.Fixed.IsEmpty)
            {
                byCommand[o.Command] = o;
            }
            byCmdlet[cmdlet] = o;
            result.Add(o);
        }
        return new PowerShellOverlay(result.ToEquatableArray());
    }

    /// <summary>
    /// Why a side file (overlay, capabilities) names a command the schema lacks. The usual cause
    /// is a root schema replaced by QEMU's own file, which drops the include of the file defining
    /// our downstream extensions: say so rather than leave a bare name.
    /// </summary>
    internal static string WhyUnknownCommand(string command) => command.StartsWith("__", StringComparison.Ordinal)
        ? ": no schema file defines this downstream extension; a root schema that replaces qga.json (QEMU's qga/qapi-schema.json, say) must keep { 'include': 'qga-qemuguest.json' }"
        : ": the schema does not define it (a root schema older than the command, or one that lost an include?)";

    private static string Context(string command) => "In overlay for command '" + command + "':";

    internal static void CheckKeys(QDict value, SourceLocation loc, string source, string[] required, string[] optional, string? context)
    {
        static string PPrint(IEnumerable<string> e) => string.Join(", ", e.OrderBy(x => x, StringComparer.Ordinal).Select(x => "'" + x + "'"));
        var missing = required.Where(k => !value.Has(k)).ToList();
        if (missing.Count > 0)
        {
            throw new SchemaError(loc, source + " misses key" + (missing.Count > 1 ? "s " : " ") + PPrint(missing), context);
        }
        var allowed = required.Concat(optional).ToList();
        var unknown = value.Keys.Where(k => !allowed.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new SchemaError(loc, source + " has unknown key" + (unknown.Count > 1 ? "s " : " ") + PPrint(unknown) + "\nValid keys are " + PPrint(allowed) + ".", context);
        }
    }

    private static CommandOverlay CheckOne(QDict expr, SourceLocation loc, QapiSchema schema)
    {
        string? context = expr["command"] is QString cs ? Context(cs.Value) : null;
        if (expr.Has("no-cmdlet"))
        {
            return CheckNoCmdlet(expr, loc, schema, context);
        }
        CheckKeys(expr, loc, "overlay", new[] { "command", "cmdlet" }, new[] { "confirm-impact", "parameters", "credential", "synopsis", "returns-as", "output-times", "unwrap", "fixed" }, context);
        if (expr["command"] is not QString commandNode)
        {
            throw new SchemaError(expr["command"]!.Location, "'command' must be a string");
        }
        string command = commandNode.Value;
        SchemaError Err(SourceLocation l, string msg) => new(l, msg, context);

        var cmd = schema.Find<QapiCommand>(command);
        if (cmd is null)
        {
            throw Err(commandNode.Location, "overlay uses unknown command '" + command + "'" + WhyUnknownCommand(command));
        }
        if (expr["cmdlet"] is not QString cmdletNode)
        {
            throw Err(expr["cmdlet"]!.Location, "'cmdlet' must be a string");
        }
        var m = CmdletName.Match(cmdletNode.Value);
        if (!m.Success)
        {
            throw Err(cmdletNode.Location, "cmdlet name '" + cmdletNode.Value + "' must be Verb-Noun");
        }
        string verb = m.Groups[1].Value;
        string noun = m.Groups[2].Value;
        if (!PowerShellVerbs.IsApproved(verb))
        {
            throw Err(cmdletNode.Location, "verb '" + verb + "' of cmdlet '" + cmdletNode.Value + "' is not an approved PowerShell verb (see Get-Verb)");
        }
        string? impact = null;
        var impactNode = expr["confirm-impact"];
        if (impactNode is not null)
        {
            if (impactNode is not QString s || Array.IndexOf(Impacts, s.Value) < 0)
            {
                throw Err(impactNode.Location, "'confirm-impact' must be one of 'None', 'Low', 'Medium', 'High'");
            }
            impact = s.Value;
        }

        var parameters = new List<ParameterOverlay>();
        var paramsNode = expr["parameters"];
        var renamed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in (paramsNode as QDict)?.Entries ?? new List<QEntry>())
        {
            if (e.Value is QDict d && d.Has("name"))
            {
                renamed.Add(e.Key);
            }
        }
        foreach (var member in ArgumentMembers(schema, cmd))
        {
            // A parameter named like a common parameter breaks the cmdlet at run time.
            if (!renamed.Contains(member) && PowerShellCommonParameters.Collides(Naming.ToPascalCase(member)) is { } common)
            {
                throw Err(commandNode.Location, "parameter '" + member + "' of command '" + command + "' collides with PowerShell's common parameter '" + common + "'; give it a 'name'");
            }
        }
        if (paramsNode is not null)
        {
            if (paramsNode is not QDict pd)
            {
                throw Err(paramsNode.Location, "'parameters' must be an object");
            }
            var members = ArgumentMembers(schema, cmd);
            var positions = new Dictionary<long, string>();
            var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var member in members)
            {
                names[Naming.ToPascalCase(member)] = "parameter '" + member + "'";
            }
            foreach (var e in pd.Entries)
            {
                string source = "parameter '" + e.Key + "'";
                if (!members.Contains(e.Key))
                {
                    throw Err(e.KeyLocation, "parameter '" + e.Key + "' is not an argument of command '" + command + "'");
                }
                if (e.Value is not QDict v)
                {
                    throw Err(e.Value.Location, source + " must be an object");
                }
                CheckKeys(v, e.KeyLocation, source, Array.Empty<string>(), new[] { "position", "aliases", "name", "as", "help", "values", "example", "guest-path" }, context);
                int? position = null;
                if (v["position"] is { } posNode)
                {
                    if (posNode is not QInt pi || pi.Value < 0 || pi.Value > int.MaxValue)
                    {
                        throw Err(posNode.Location, "'position' of " + source + " must be a non-negative integer");
                    }
                    if (positions.TryGetValue(pi.Value, out var used))
                    {
                        throw Err(posNode.Location, "position " + pi.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) + " of " + source + " is already used by parameter '" + used + "'");
                    }
                    positions[pi.Value] = e.Key;
                    position = (int)pi.Value;
                }
                string? name = null;
                if (v["name"] is { } nameNode)
                {
                    if (nameNode is not QString ns || !Identifier.IsMatch(ns.Value))
                    {
                        throw Err(nameNode.Location, "'name' of " + source + " must be an identifier");
                    }
                    name = ns.Value;
                    names.Remove(Naming.ToPascalCase(e.Key));
                    AddName(name, nameNode.Location, "name '" + name + "' of " + source);
                }
                var aliases = new List<string>();
                if (v["aliases"] is { } aliasNode)
                {
                    if (aliasNode is not QList al)
                    {
                        throw Err(aliasNode.Location, "'aliases' of " + source + " must be an array of strings");
                    }
                    foreach (var a in al.Items)
                    {
                        if (a is not QString s || !Identifier.IsMatch(s.Value))
                        {
                            throw Err(a.Location, "'aliases' of " + source + " must be an array of identifiers");
                        }
                        AddName(s.Value, s.Location, "alias '" + s.Value + "' of " + source);
                        aliases.Add(s.Value);
                    }
                }
                string? form = null;
                if (v["as"] is { } asNode)
                {
                    if (asNode is not QString asText || Array.IndexOf(ParameterForms.All, asText.Value) < 0)
                    {
                        throw Err(asNode.Location, "'as' of " + source + " must be one of " + string.Join(", ", ParameterForms.All.Select(x => "'" + x + "'")));
                    }
                    form = asText.Value;
                    var memberType = MemberType(schema, cmd, e.Key);
                    if (!FormFits(form, memberType))
                    {
                        throw Err(asNode.Location, "'as': '" + form + "' of " + source + " needs a member of type '" + FormType(form) + "', not '" + memberType + "'");
                    }
                }
                var values = new List<string>();
                if (v["values"] is { } valuesNode)
                {
                    if (valuesNode is not QList vl || vl.Items.Count == 0 || vl.Items.Any(x => x is not QString))
                    {
                        throw Err(valuesNode.Location, "'values' of " + source + " must be a non-empty array of strings");
                    }
                    if (MemberType(schema, cmd, e.Key) is not { Name: "str" })
                    {
                        throw Err(valuesNode.Location, "'values' of " + source + " needs a 'str' member (enums get theirs from the schema)");
                    }
                    values.AddRange(vl.Items.Cast<QString>().Select(x => x.Value));
                }
                string? help = null;
                if (v["help"] is { } helpNode)
                {
                    if (helpNode is not QString hs || hs.Value.Trim().Length == 0)
                    {
                        throw Err(helpNode.Location, "'help' of " + source + " must be a non-empty string");
                    }
                    help = hs.Value.Trim();
                }
                string? example = null;
                if (v["example"] is { } exampleNode)
                {
                    if (exampleNode is not QString xs || xs.Value.Trim().Length == 0)
                    {
                        throw Err(exampleNode.Location, "'example' of " + source + " must be a non-empty string");
                    }
                    example = xs.Value.Trim();
                }
                bool guestPath = false;
                if (v["guest-path"] is { } gpNode)
                {
                    if (gpNode is not QBool gb)
                    {
                        throw Err(gpNode.Location, "'guest-path' of " + source + " must be true or false");
                    }
                    if (MemberType(schema, cmd, e.Key) is not { Name: "str" })
                    {
                        throw Err(gpNode.Location, "'guest-path' of " + source + " needs a 'str' member or a list of them");
                    }
                    guestPath = gb.Value;
                }
                parameters.Add(new ParameterOverlay(e.Key, name, position, aliases.ToEquatableArray(), form, help, values.ToEquatableArray(), example, e.KeyLocation, guestPath));
            }

            void AddName(string n, SourceLocation l, string descr)
            {
                if (PowerShellCommonParameters.Collides(n) is { } common)
                {
                    throw Err(l, descr + " collides with PowerShell's common parameter '" + common + "'");
                }
                if (names.TryGetValue(n, out var prev))
                {
                    throw Err(l, descr + " collides with " + prev);
                }
                names[n] = descr;
            }
        }
        CredentialOverlay? credential = null;
        if (expr["credential"] is { } credNode)
        {
            if (credNode is not QDict cd)
            {
                throw Err(credNode.Location, "'credential' must be an object");
            }
            CheckKeys(cd, credNode.Location, "'credential'", new[] { "user", "password" }, Array.Empty<string>(), context);
            string Member(string key, string form)
            {
                var node = cd[key]!;
                if (node is not QString ms || MemberType(schema, cmd, ms.Value) is not { IsArray: false, Name: "str" })
                {
                    throw Err(node.Location, "'" + key + "' of 'credential' must name a 'str' argument of command '" + command + "'");
                }
                if (form.Length > 0 && !parameters.Any(x => x.Member == ms.Value && x.As == form))
                {
                    throw Err(node.Location, "'" + key + "' of 'credential' names '" + ms.Value + "', whose parameter needs 'as': '" + form + "'");
                }
                return ms.Value;
            }
            credential = new CredentialOverlay(Member("user", string.Empty), Member("password", ParameterForms.SecureBase64), credNode.Location);
        }
        string? synopsis = null;
        if (expr["synopsis"] is { } synNode)
        {
            if (synNode is not QString ss || ss.Value.Trim().Length == 0)
            {
                throw Err(synNode.Location, "'synopsis' must be a non-empty string");
            }
            synopsis = ss.Value.Trim();
        }
        QapiTypeRef? returns = cmd.Returns;
        string? returnsAs = null;
        if (expr["returns-as"] is { } raNode)
        {
            if (raNode is not QString ra || Array.IndexOf(ParameterForms.Times, ra.Value) < 0)
            {
                throw Err(raNode.Location, "'returns-as' must be one of " + string.Join(", ", ParameterForms.Times.Select(x => "'" + x + "'")));
            }
            if (!FormFits(ra.Value, returns))
            {
                throw Err(raNode.Location, "'returns-as': '" + ra.Value + "' needs a command returning '" + FormType(ra.Value) + "', not '" + (returns?.ToString() ?? "nothing") + "'");
            }
            returnsAs = ra.Value;
        }
        var returnedStruct = returns is null ? null : schema.Find<QapiStruct>(returns.Name);
        var outputTimes = new List<OutputTimeOverlay>();
        if (expr["output-times"] is { } otNode)
        {
            if (otNode is not QDict od)
            {
                throw Err(otNode.Location, "'output-times' must be an object");
            }
            foreach (var e in od.Entries)
            {
                if (e.Value is not QString f || Array.IndexOf(ParameterForms.Times, f.Value) < 0)
                {
                    throw Err(e.Value.Location, "'output-times' member '" + e.Key + "' must be one of " + string.Join(", ", ParameterForms.Times.Select(x => "'" + x + "'")));
                }
                var member = returnedStruct?.AllMembers.FirstOrDefault(x => x.Name == e.Key);
                if (member is null || !FormFits(f.Value, member.Type))
                {
                    throw Err(e.KeyLocation, "'output-times' member '" + e.Key + "' must be a '" + FormType(f.Value) + "' member of the returned type '" + (returns?.Name ?? "nothing") + "'");
                }
                outputTimes.Add(new OutputTimeOverlay(e.Key, f.Value));
            }
        }
        string? unwrap = null;
        if (expr["unwrap"] is { } uwNode)
        {
            var member = uwNode is QString uw && returns is { IsArray: false } ? returnedStruct?.AllMembers.FirstOrDefault(x => x.Name == uw.Value) : null;
            if (member is null || !member.Type.IsArray || returnedStruct!.AllMembers.Count != 1)
            {
                throw Err(uwNode.Location, "'unwrap' must name the one member, a list, of the returned struct");
            }
            unwrap = member.Name;
        }
        var fixedArguments = new List<FixedArgumentOverlay>();
        if (expr["fixed"] is { } fxNode)
        {
            if (fxNode is not QDict fd || fd.Entries.Count == 0)
            {
                throw Err(fxNode.Location, "'fixed' must be a non-empty object");
            }
            foreach (var e in fd.Entries)
            {
                if (e.Value is not QString fv || MemberType(schema, cmd, e.Key) is not { IsArray: false, Name: "str" })
                {
                    throw Err(e.KeyLocation, "'fixed' member '" + e.Key + "' must be a 'str' argument of command '" + command + "' with a string value");
                }
                if (parameters.Any(x => x.Member == e.Key))
                {
                    throw Err(e.KeyLocation, "'fixed' member '" + e.Key + "' cannot also be in 'parameters'");
                }
                fixedArguments.Add(new FixedArgumentOverlay(e.Key, fv.Value));
            }
        }
        return new CommandOverlay(command, verb, noun, impact, parameters.ToEquatableArray(), credential, synopsis, returnsAs,
            outputTimes.ToEquatableArray(), unwrap, fixedArguments.ToEquatableArray(), loc);
    }

    /// <summary>
    /// A command only the task cmdlets' engines may send (the bulk mode's frames follow its reply),
    /// so a generated cmdlet would leave the channel in a state no pipeline expects.
    /// </summary>
    private static CommandOverlay CheckNoCmdlet(QDict expr, SourceLocation loc, QapiSchema schema, string? context)
    {
        CheckKeys(expr, loc, "overlay", new[] { "command", "no-cmdlet" }, Array.Empty<string>(), context);
        if (expr["command"] is not QString commandNode || schema.Find<QapiCommand>(commandNode.Value) is null)
        {
            throw new SchemaError(expr["command"]!.Location, "'command' must name a command of the schema", context);
        }
        if (expr["no-cmdlet"] is not QString why || why.Value.Trim().Length == 0)
        {
            throw new SchemaError(expr["no-cmdlet"]!.Location, "'no-cmdlet' must be a non-empty string saying why", context);
        }
        return new CommandOverlay(commandNode.Value, string.Empty, string.Empty, null, EquatableArray<ParameterOverlay>.Empty, null, null, null,
            EquatableArray<OutputTimeOverlay>.Empty, null, EquatableArray<FixedArgumentOverlay>.Empty, loc)
        { NoCmdlet = why.Value };
    }

    private static readonly string[] Integers = { "int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "size" };

    /// <summary>Whether a member (or result) of <paramref name="type"/> can take the PowerShell form.</summary>
    private static bool FormFits(string form, QapiTypeRef? type)
    {
        if (type is null || type.IsArray)
        {
            return false;
        }
        return form switch
        {
            ParameterForms.Switch => type.Name == "bool",
            ParameterForms.SecureBase64 => type.Name == "str",
            ParameterForms.DateTimeNanoseconds => Array.IndexOf(Integers, type.Name) >= 0,
            ParameterForms.DateTimeSeconds => type.Name == "number" || Array.IndexOf(Integers, type.Name) >= 0,
            _ => false,
        };
    }

    private static string FormType(string form) => form switch
    {
        ParameterForms.Switch => "bool",
        ParameterForms.SecureBase64 => "str",
        ParameterForms.DateTimeNanoseconds => "int",
        _ => "number",
    };

    /// <summary>The type of a command's argument member, or null when there is no such member.</summary>
    private static QapiTypeRef? MemberType(QapiSchema schema, QapiCommand cmd, string member)
    {
        if (cmd.Arguments is not null && schema.Find<QapiStruct>(cmd.Arguments) is { } s)
        {
            foreach (var m in s.AllMembers)
            {
                if (m.Name == member)
                {
                    return m.Type;
                }
            }
        }
        return null;
    }

    /// <summary>Wire names of a command's arguments (a boxed union: base and every branch).</summary>
    private static List<string> ArgumentMembers(QapiSchema schema, QapiCommand cmd)
    {
        var list = new List<string>();
        if (cmd.Arguments is null)
        {
            return list;
        }
        var e = schema.Find(cmd.Arguments);
        if (e is QapiStruct s)
        {
            list.AddRange(s.AllMembers.Select(x => x.Name));
        }
        else if (e is QapiUnion u)
        {
            if (schema.Find<QapiStruct>(u.Base) is { } b)
            {
                list.AddRange(b.AllMembers.Select(x => x.Name));
            }
            foreach (var v in u.Variants)
            {
                if (schema.Find<QapiStruct>(v.Type.Name) is { } vs)
                {
                    list.AddRange(vs.AllMembers.Select(x => x.Name).Where(x => !list.Contains(x)));
                }
            }
        }
        return list;
    }
}

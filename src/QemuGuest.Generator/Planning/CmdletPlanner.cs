using System;
using System.Collections.Generic;
using System.Globalization;
using QemuGuest.Generator.Emit;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>Builds the <see cref="CmdletPlan"/>; reports name clashes as diagnostics.</summary>
internal static class CmdletPlanner
{
    /// <summary>Parameters every generated cmdlet inherits from GuestCmdlet.</summary>
    public static readonly string[] BaseParameters = { "Session", "VMName", "ThrottleLimit", "TimeoutSec" };

    /// <summary>PowerShell's common and risk-mitigation parameters and their aliases.</summary>
    public static readonly string[] CommonParameters =
    {
        "Verbose", "vb", "Debug", "db", "ErrorAction", "ea", "WarningAction", "wa", "InformationAction", "infa",
        "ProgressAction", "proga", "ErrorVariable", "ev", "WarningVariable", "wv", "InformationVariable", "iv",
        "OutVariable", "ov", "OutBuffer", "ob", "PipelineVariable", "pv", "WhatIf", "wi", "Confirm", "cf",
        "UseTransaction", "usetx",
    };

    /// <summary>Members of PSCmdlet/GuestCmdlet a parameter property must not hide.</summary>
    private static readonly string[] ReservedProperties =
    {
        "CommandRuntime", "CurrentPSTransaction", "CommandOrigin", "Events", "Host", "InvokeCommand", "InvokeProvider",
        "JobManager", "JobRepository", "MyInvocation", "PagingParameters", "ParameterSetName", "SessionState",
        "Stopping", "StoppingToken", "ShouldProcessAction", "CommandName", "Dispose", "Post",
    };

    /// <summary>
    /// The verbs the default naming rule may take from a command name's first word
    /// (all PowerShell approved verbs).
    /// </summary>
    private static readonly string[] DefaultVerbs = { "Get", "Set", "Add", "Remove", "New", "Start", "Stop", "Read", "Write", "Open", "Close", "Test", "Sync", "Clear", "Reset" };

    /// <summary>
    /// The default cmdlet name for a command the overlay does not mention: strip a downstream
    /// prefix ("__com.example_") and a leading "guest-"; if the next word is one of a few
    /// approved verbs (get, set, add, remove, new, start, stop, read, write, open, close, test,
    /// sync, clear, reset) it becomes the verb and the rest the noun, else the verb is Invoke and
    /// the whole name the noun; nouns are "VMGuest" + PascalCase. guest-get-foo-bar →
    /// Get-VMGuestFooBar, guest-set-x → Set-VMGuestX, guest-frobnicate → Invoke-VMGuestFrobnicate,
    /// guest-get → Invoke-VMGuestGet.
    /// </summary>
    public static (string Verb, string Noun) DefaultName(string command)
    {
        string name = Naming.StripDownstreamPrefix(command);
        if (name.StartsWith("guest-", StringComparison.Ordinal))
        {
            name = name.Substring("guest-".Length);
        }
        int dash = name.IndexOf('-');
        if (dash > 0 && dash < name.Length - 1)
        {
            string first = name.Substring(0, dash);
            foreach (var v in DefaultVerbs)
            {
                if (string.Equals(v, first, StringComparison.OrdinalIgnoreCase))
                {
                    return (v, "VMGuest" + Naming.ToPascalCase(name.Substring(dash + 1)));
                }
            }
        }
        return ("Invoke", "VMGuest" + Naming.ToPascalCase(name));
    }

    public static CmdletPlan Plan(QapiSchema schema, PowerShellOverlay? overlay, List<DiagnosticInfo> diagnostics)
    {
        var list = new List<CmdletInfo>();
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var c in schema.Commands)
        {
            var entries = new List<CommandOverlay?> { overlay?.Find(c.Name) };
            if (overlay is not null)
            {
                entries.AddRange(overlay.Variants(c.Name));
            }
            foreach (var entry in entries)
            {
                if (entry?.NoCmdlet is not null)
                {
                    continue;
                }
                if (PlanOne(schema, c, entry, byName, diagnostics) is { } planned)
                {
                    list.Add(planned);
                }
            }
        }
        return new CmdletPlan(list.ToEquatableArray());
    }

    private static CmdletInfo? PlanOne(QapiSchema schema, QapiCommand c, CommandOverlay? o, Dictionary<string, string> byName, List<DiagnosticInfo> diagnostics)
    {
        {
            string verb;
            string noun;
            if (o is not null)
            {
                verb = o.Verb;
                noun = o.Noun;
            }
            else
            {
                (verb, noun) = DefaultName(c.Name);
            }
            string? impact = o is not null ? o.ConfirmImpact : verb == "Get" || verb == "Test" || verb == "Read" ? null : "Medium";
            string cmdletName = verb + "-" + noun;
            if (byName.TryGetValue(cmdletName, out var other))
            {
                diagnostics.Add(Diag(DiagnosticDescriptors.CmdletNameClash, c.Location, cmdletName, c.Name, other));
                return null;
            }
            byName[cmdletName] = c.Name;

            var parameters = new List<CmdletParameter>();
            bool ok = true;
            if (c.Arguments is not null && schema.Find(c.Arguments) is not QapiStruct)
            {
                // Boxed union arguments have no flat parameter list.
                diagnostics.Add(Diag(DiagnosticDescriptors.UnsupportedParameterType, c.Location, "(arguments)", c.Name, c.Arguments));
                return null;
            }
            var used = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            int nextPosition = 0;
            foreach (var m in CommandMembers(schema, c))
            {
                if (o is not null && IsFixed(o, m.Name))
                {
                    continue;
                }
                ParameterOverlay? po = null;
                if (o is not null)
                {
                    foreach (var p in o.Parameters)
                    {
                        if (p.Member == m.Name)
                        {
                            po = p;
                        }
                    }
                }
                string pname = po?.Name ?? Naming.ToPascalCase(m.Name);
                int? position = po?.Position;
                if (o is null && !m.Optional)
                {
                    // No overlay: required arguments are positional in schema order.
                    position = nextPosition++;
                }
                var aliases = po is null ? new List<string>() : new List<string>(po.Aliases);
                foreach (var n in Prepend(pname, aliases))
                {
                    string? clash = Clash(n);
                    if (clash is null && used.TryGetValue(n, out var prev))
                    {
                        clash = "parameter '" + prev + "'";
                    }
                    if (clash is not null)
                    {
                        diagnostics.Add(Diag(DiagnosticDescriptors.ParameterNameClash, po?.Location ?? m.Location, n, m.Name, c.Name, clash));
                        ok = false;
                    }
                    used[n] = m.Name;
                }
                var kind = po?.As switch
                {
                    ParameterForms.SecureBase64 => CmdletParameterKind.SecureBase64,
                    ParameterForms.Switch => CmdletParameterKind.RequiredSwitch,
                    ParameterForms.DateTimeNanoseconds => CmdletParameterKind.DateTimeNanoseconds,
                    ParameterForms.DateTimeSeconds => CmdletParameterKind.DateTimeSeconds,
                    _ => KindOf(schema, m),
                };
                if (kind is null)
                {
                    diagnostics.Add(Diag(DiagnosticDescriptors.UnsupportedParameterType, m.Location, m.Name, c.Name, m.Type.ToString()));
                    ok = false;
                    continue;
                }
                parameters.Add(new CmdletParameter(
                    m.Name, pname, kind.Value, m.Type, m.Optional, position, aliases.ToEquatableArray(),
                    (po is { Values.IsEmpty: false } ? new List<string>(po.Values) : ValidValues(schema, m.Type, kind.Value)).ToEquatableArray(),
                    po?.Help ?? MemberDoc(schema, c, m.Name),
                    kind == CmdletParameterKind.SecureBase64 || IsSecret(m.Name),
                    po?.Example,
                    po?.GuestPath ?? false));
            }
            if (verb == "Test" && used.TryGetValue("Detailed", out var detailedMember))
            {
                diagnostics.Add(Diag(DiagnosticDescriptors.ParameterNameClash, c.Location, "Detailed", detailedMember, c.Name, "the -Detailed switch every Test- cmdlet has"));
                ok = false;
            }
            if (o?.Credential is { } credential && used.TryGetValue("Credential", out var taken))
            {
                diagnostics.Add(Diag(DiagnosticDescriptors.ParameterNameClash, credential.Location, "Credential", taken, c.Name, "the -Credential parameter of the overlay's 'credential'"));
                ok = false;
            }
            if (!ok)
            {
                return null;
            }
            return new CmdletInfo(c.Name, verb, noun, verb + noun + "Command", impact, o is not null,
                parameters.ToEquatableArray(), ScalarProperty(schema, c),
                o?.Credential is { } cred ? new CmdletCredential(cred.UserMember, cred.PasswordMember) : null,
                o?.Synopsis, o?.ReturnsAs, o?.OutputTimes ?? EquatableArray<OutputTimeOverlay>.Empty, o?.Unwrap,
                o?.Fixed ?? EquatableArray<FixedArgumentOverlay>.Empty);
        }
    }

    private static bool IsFixed(CommandOverlay o, string member)
    {
        foreach (var f in o.Fixed)
        {
            if (f.Member == member)
            {
                return true;
            }
        }
        return false;
    }

    private static IEnumerable<string> Prepend(string first, List<string> rest)
    {
        yield return first;
        foreach (var r in rest)
        {
            yield return r;
        }
    }

    private static string? Clash(string name)
    {
        foreach (var b in BaseParameters)
        {
            if (string.Equals(b, name, StringComparison.OrdinalIgnoreCase))
            {
                return "the GuestCmdlet parameter '" + b + "'";
            }
        }
        foreach (var b in CommonParameters)
        {
            if (string.Equals(b, name, StringComparison.OrdinalIgnoreCase))
            {
                return "the common parameter (or alias) '" + b + "'";
            }
        }
        foreach (var b in ReservedProperties)
        {
            if (string.Equals(b, name, StringComparison.OrdinalIgnoreCase))
            {
                return "the cmdlet member '" + b + "'";
            }
        }
        return null;
    }

    private static DiagnosticInfo Diag(Microsoft.CodeAnalysis.DiagnosticDescriptor d, SourceLocation loc, params string[] args) =>
        new(d.Id, args.ToEquatableArray(), loc.File, loc.Line, loc.Column, 0, 0);

    /// <summary>A password (guest-set-user-password's) must not reach the console or a transcript.</summary>
    private static bool IsSecret(string member) => member.IndexOf("password", StringComparison.OrdinalIgnoreCase) >= 0;

    /// <summary>A command's argument members (a named struct's members; boxed unions are not supported).</summary>
    public static EquatableArray<QapiMember> CommandMembers(QapiSchema schema, QapiCommand c) =>
        c.Arguments is null ? EquatableArray<QapiMember>.Empty : schema.Find<QapiStruct>(c.Arguments)?.AllMembers ?? EquatableArray<QapiMember>.Empty;

    private static CmdletParameterKind? KindOf(QapiSchema schema, QapiMember m)
    {
        var t = m.Type;
        switch (t.Name)
        {
            case "bool":
                return t.IsArray ? CmdletParameterKind.Scalar : m.Optional ? CmdletParameterKind.Switch : CmdletParameterKind.Bool;
            case "any":
            case "null":
                return null;
        }
        return schema.Find(t.Name) switch
        {
            QapiEnum => CmdletParameterKind.Enum,
            QapiAlternate a => t.IsArray ? null : AlternateSupported(schema, a) ? CmdletParameterKind.Alternate : null,
            QapiStruct s => StructSupported(schema, s, 0) ? CmdletParameterKind.Struct : null,
            QapiUnion => null,
            _ => CmdletParameterKind.Scalar,
        };
    }

    private static bool AlternateSupported(QapiSchema schema, QapiAlternate a)
    {
        foreach (var v in a.Alternatives)
        {
            if (v.Type.IsArray || v.Type.Name is "any" or "null" || schema.Find(v.Type.Name) is QapiStruct or QapiUnion or QapiAlternate)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Structs whose members are scalars, enums or such structs can be built from a property bag.</summary>
    public static bool StructSupported(QapiSchema schema, QapiStruct s, int depth)
    {
        if (depth > 8)
        {
            return false;
        }
        foreach (var m in s.AllMembers)
        {
            if (m.Type.Name is "any" or "null")
            {
                return false;
            }
            switch (schema.Find(m.Type.Name))
            {
                case QapiStruct inner when !StructSupported(schema, inner, depth + 1):
                case QapiUnion:
                case QapiAlternate:
                    return false;
            }
        }
        return true;
    }

    private static List<string> ValidValues(QapiSchema schema, QapiTypeRef t, CmdletParameterKind kind)
    {
        var values = new List<string>();
        if (kind == CmdletParameterKind.Enum && schema.Find<QapiEnum>(t.Name) is { } e)
        {
            foreach (var v in e.Values)
            {
                values.Add(v.Name);
            }
        }
        else if (kind == CmdletParameterKind.Alternate && schema.Find<QapiAlternate>(t.Name) is { } a)
        {
            // A ValidateSet only when every branch is finite (enums and bools).
            foreach (var v in a.Alternatives)
            {
                if (v.Type.Name == "bool")
                {
                    values.Add("true");
                    values.Add("false");
                }
                else if (schema.Find<QapiEnum>(v.Type.Name) is { } ae)
                {
                    foreach (var ev in ae.Values)
                    {
                        values.Add(ev.Name);
                    }
                }
                else
                {
                    return new List<string>();
                }
            }
        }
        return values;
    }

    /// <summary>The doc text of an argument: the command's '@member:' section, else the argument struct's.</summary>
    public static string MemberDoc(QapiSchema schema, QapiCommand c, string member)
    {
        string? text = c.Doc?.MemberText(member);
        if (string.IsNullOrWhiteSpace(text) && c.Arguments is not null)
        {
            var s = schema.Find<QapiStruct>(c.Arguments);
            while (s is not null && string.IsNullOrWhiteSpace(text))
            {
                text = s.Doc?.MemberText(member);
                s = s.Base is null ? null : schema.Find<QapiStruct>(s.Base);
            }
        }
        if (string.IsNullOrWhiteSpace(text))
        {
            return "The argument \"" + member + "\" of " + c.Name + ".";
        }
        // Help reads better capitalised ("the process id ..." → "The process id ...").
        string t = text!.Trim();
        return char.ToUpperInvariant(t[0]) + t.Substring(1);
    }

    /// <summary>
    /// For a command returning a scalar (int, str, bool, an enum...), the name of the one
    /// property of the object written instead, so the value pipes by property name: from the
    /// doc's "Returns:" text — "@id, ..." → Id; "the number of ..." → Count; "the [guest('s)]
    /// handle ..." → Handle — else the enum type's last word (GuestFsfreezeStatus → Status),
    /// else "Value". Null when the command returns an object, a list or nothing.
    /// </summary>
    /// <summary>The list member whose elements an 'unwrap' cmdlet writes, or null.</summary>
    public static QapiMember? UnwrapMember(TypeMap map, QapiCommand cmd, CmdletInfo c)
    {
        if (c.Unwrap is null || cmd.Returns is null)
        {
            return null;
        }
        foreach (var m in map.StructMembers(cmd.Returns.Name))
        {
            if (m.Name == c.Unwrap)
            {
                return m;
            }
        }
        return null;
    }

    public static string? ScalarProperty(QapiSchema schema, QapiCommand c)
    {
        if (c.Returns is null || c.Returns.IsArray)
        {
            return null;
        }
        var e = schema.Find(c.Returns.Name);
        if (e is QapiStruct or QapiUnion or QapiAlternate)
        {
            return null;
        }
        string doc = (c.Doc?.Returns ?? string.Empty).Trim();
        if (doc.StartsWith("@", StringComparison.Ordinal))
        {
            int end = 1;
            while (end < doc.Length && (char.IsLetterOrDigit(doc[end]) || doc[end] == '-' || doc[end] == '_'))
            {
                end++;
            }
            if (end > 1)
            {
                return Naming.ToPascalCase(doc.Substring(1, end - 1));
            }
        }
        var words = doc.Split(new[] { ' ', '\n', '\t', '.', ',', ':', ';' }, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length >= 2 && string.Equals(words[0], "the", StringComparison.OrdinalIgnoreCase))
        {
            int i = 1;
            if (words[i] is "guest" or "guest's" or "agent's" or "new" && words.Length > 2)
            {
                i++;
            }
            if (words[i] == "number" && words.Length > i + 1 && words[i + 1] == "of")
            {
                return "Count";
            }
            string w = words[i];
            bool letters = w.Length > 0;
            foreach (char ch in w)
            {
                letters &= char.IsLetter(ch);
            }
            if (letters)
            {
                return char.ToUpper(w[0], CultureInfo.InvariantCulture) + w.Substring(1);
            }
        }
        if (e is QapiEnum en)
        {
            string n = Naming.ToPascalCase(en.Name);
            int last = n.Length - 1;
            while (last > 0 && !char.IsUpper(n[last]))
            {
                last--;
            }
            return n.Substring(last);
        }
        return "Value";
    }
}

using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using QemuGuest.Schema.Parsing;

namespace QemuGuest.Schema.Checking;

/// <summary>
/// The context-free checks of each definition expression (QEMU's scripts/qapi/expr.py, with
/// its message texts): metatype, names, keys, member and branch shapes, 'if', features,
/// flags, and the doc comment's symbol. Produces normalised <see cref="Definition"/>s.
/// </summary>
internal sealed class ExprChecker
{
    private static readonly string[] Metas = { "enum", "struct", "union", "alternate", "command", "event" };

    // Names: letters, digits, '-' and '_', starting with a letter; an experimental name is
    // prefixed with 'x-', a downstream extension with '__RFQDN_' (that prefix goes first).
    private static readonly Regex ValidName = new(@"^(__[a-z0-9.-]+_)?(x-)?([a-z][a-z0-9_-]*)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    private static readonly Regex CamelStem = new(@"^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$", RegexOptions.CultureInvariant);
    private static readonly Regex IfIdentifier = new(@"^[A-Z][A-Z0-9_]*$", RegexOptions.CultureInvariant);
    private static readonly Regex LegacyDefined = new(@"^defined\(([A-Z][A-Z0-9_]*)\)$", RegexOptions.CultureInvariant);

    // Members become C# properties: these would hide or clash with members every generated
    // record has (object's, and the compiler's record members).
    private static readonly HashSet<string> ReservedProperties = new(System.StringComparer.OrdinalIgnoreCase)
    {
        "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "Finalize",
        "EqualityContract", "Deconstruct", "PrintMembers",
    };

    private readonly PragmaState _pragma;
    private Definition _def = null!;

    public ExprChecker(PragmaState pragma) => _pragma = pragma;

    private SchemaError Error(SourceLocation loc, string message) => new(loc, message, _def?.Context);

    public Definition Check(ParsedExpr pe)
    {
        _def = null!;
        QDict expr = pe.Expr;
        SourceLocation info = pe.Location;

        var metas = Metas.Where(expr.Has).ToList();
        string nameKey;
        if (metas.Count == 0 && expr.Has("type") && !_pragma.Upstream)
        {
            // Old-style schemas (QEMU before 2.1) wrote 'type' for 'struct'.
            metas.Add("struct");
            nameKey = "type";
        }
        else if (metas.Count != 1)
        {
            throw new SchemaError(info, "expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'");
        }
        else
        {
            nameKey = metas[0];
        }
        string meta = metas[0];
        if (expr[nameKey] is not QString nameNode)
        {
            throw new SchemaError(info, "'" + meta + "' requires a string name");
        }
        string name = nameNode.Value;
        _def = new Definition(meta, name, info, pe.Doc);
        CheckDefnName(name, nameNode.Location, meta);

        var doc = pe.Doc;
        if (doc is not null)
        {
            if (doc.Symbol != name)
            {
                throw Error(info, "documentation comment is for '" + doc.Symbol + "'");
            }
            if (meta != "command")
            {
                foreach (var tag in new[] { "Returns", "Errors" })
                {
                    var s = doc.Section(tag);
                    if (s is not null)
                    {
                        throw Error(s.Location, "'" + tag + "' section is only valid for commands");
                    }
                }
            }
        }
        else if (_pragma.DocRequired)
        {
            throw Error(info, "documentation comment required");
        }

        switch (meta)
        {
            case "enum":
                CheckKeys(expr, info, meta, new[] { "enum", "data" }, new[] { "if", "features", "prefix" });
                CheckEnum(expr, info, name);
                break;
            case "union":
                CheckKeys(expr, info, meta, new[] { "union", "base", "discriminator", "data" }, new[] { "if", "features" });
                CheckUnion(expr, info, name);
                break;
            case "alternate":
                CheckKeys(expr, info, meta, new[] { "alternate", "data" }, new[] { "if", "features" });
                CheckAlternate(expr, info);
                break;
            case "struct":
                CheckKeys(expr, info, meta, new[] { nameKey, "data" }, new[] { "base", "if", "features" });
                CheckStruct(expr, info, name);
                break;
            case "command":
                CheckKeys(expr, info, meta, new[] { "command" }, new[] { "data", "returns", "boxed", "if", "features", "gen", "success-response", "allow-oob", "allow-preconfig", "coroutine" });
                CheckCommand(expr, info, name);
                break;
            default:
                CheckKeys(expr, info, meta, new[] { "event" }, new[] { "data", "boxed", "if", "features" });
                CheckEvent(expr, info, name);
                break;
        }
        _def.If = CheckIf(expr, info, meta);
        CheckFeatures(expr["features"], info, _def.Features);
        CheckFlags(expr, info);
        return _def;
    }

    private bool PermitUnderscore => _pragma.Legacy;

    private string CheckNameStr(string name, SourceLocation loc, string source)
    {
        var m = ValidName.Match(name);
        // The whole 'q_' namespace is reserved for implicit names.
        if (!m.Success || CName(name).StartsWith("q_", System.StringComparison.Ordinal))
        {
            throw Error(loc, source + " has an invalid name");
        }
        return m.Groups[3].Value;
    }

    /// <summary>QEMU's c_name without protection: every character but letters, digits and '_' becomes '_'.</summary>
    private static string CName(string name)
    {
        var chars = name.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            char c = chars[i];
            if (!(c < 128 && (char.IsLetterOrDigit(c) || c == '_')))
            {
                chars[i] = '_';
            }
        }
        return new string(chars);
    }

    private void CheckNameUpper(string name, SourceLocation loc, string source)
    {
        string stem = CheckNameStr(name, loc, source);
        if (Regex.IsMatch(stem, "[a-z-]", RegexOptions.CultureInvariant))
        {
            throw Error(loc, "name of " + source + " must not use lowercase or '-'");
        }
    }

    private void CheckNameLower(string name, SourceLocation loc, string source, bool permitUpper = false, bool permitUnderscore = false)
    {
        string stem = CheckNameStr(name, loc, source);
        permitUnderscore |= PermitUnderscore;
        if ((!permitUpper && Regex.IsMatch(stem, "[A-Z]", RegexOptions.CultureInvariant)) || (!permitUnderscore && stem.IndexOf('_') >= 0))
        {
            throw Error(loc, "name of " + source + " must not use uppercase or '_'");
        }
    }

    private void CheckNameCamel(string name, SourceLocation loc, string source)
    {
        string stem = CheckNameStr(name, loc, source);
        if (!CamelStem.IsMatch(stem))
        {
            throw Error(loc, "name of " + source + " must use CamelCase");
        }
    }

    private void CheckDefnName(string name, SourceLocation loc, string meta)
    {
        if (meta == "event")
        {
            CheckNameUpper(name, loc, meta);
        }
        else if (meta == "command")
        {
            bool exception = _pragma.CommandNameExceptions.Contains(name);
            CheckNameLower(name, loc, meta, permitUpper: exception, permitUnderscore: exception);
        }
        else
        {
            CheckNameCamel(name, loc, meta);
        }
        if (name.EndsWith("List", System.StringComparison.Ordinal))
        {
            throw Error(loc, meta + " name should not end in 'List'");
        }
    }

    private static string PPrint(IEnumerable<string> elems) =>
        string.Join(", ", elems.OrderBy(e => e, System.StringComparer.Ordinal).Select(e => "'" + e + "'"));

    private void CheckKeys(QDict value, SourceLocation loc, string source, string[] required, string[] optional)
    {
        var missing = required.Where(k => !value.Has(k)).ToList();
        if (missing.Count > 0)
        {
            throw Error(loc, source + " misses key" + (missing.Count > 1 ? "s " : " ") + PPrint(missing));
        }
        var allowed = required.Concat(optional).ToList();
        var unknown = value.Keys.Where(k => !allowed.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw Error(loc, source + " has unknown key" + (unknown.Count > 1 ? "s " : " ") + PPrint(unknown) + "\nValid keys are " + PPrint(allowed) + ".");
        }
    }

    private void CheckFlags(QDict expr, SourceLocation info)
    {
        foreach (var key in new[] { "gen", "success-response" })
        {
            var v = expr[key];
            if (v is not null && !(v is QBool b && !b.Value))
            {
                throw Error(v.Location, "flag '" + key + "' may only use false value");
            }
        }
        foreach (var key in new[] { "boxed", "allow-oob", "allow-preconfig", "coroutine" })
        {
            var v = expr[key];
            if (v is not null && !(v is QBool b && b.Value))
            {
                throw Error(v.Location, "flag '" + key + "' may only use true value");
            }
        }
        if (expr.Has("allow-oob") && expr.Has("coroutine"))
        {
            throw Error(info, "flags 'allow-oob' and 'coroutine' are incompatible");
        }
        _def.Boxed = expr.Has("boxed");
        _def.Gen = !expr.Has("gen");
        _def.SuccessResponse = !expr.Has("success-response");
        _def.AllowOob = expr.Has("allow-oob");
        _def.AllowPreconfig = expr.Has("allow-preconfig");
        _def.Coroutine = expr.Has("coroutine");
    }

    /// <summary>Checks and converts an 'if' value: 'NAME', {'all': [...]}, {'any': [...]}, {'not': ...}.</summary>
    private QapiCondition? CheckIf(QDict expr, SourceLocation info, string source)
    {
        var ifcond = expr["if"];
        if (ifcond is null)
        {
            return null;
        }
        if (ifcond is QList legacy && !_pragma.Upstream)
        {
            // QEMU 3.0-6.0 wrote a list of conditions meaning "all of them".
            return new QapiConditionAll(CheckInfix("all", legacy, source));
        }
        return CheckIfValue(ifcond, source);
    }

    private QapiCondition CheckIfValue(QNode cond, string source)
    {
        if (cond is QString s)
        {
            var legacy = LegacyDefined.Match(s.Value);
            if (legacy.Success && !_pragma.Upstream)
            {
                // QEMU 3.0-6.0 wrote C preprocessor conditions: 'defined(CONFIG_X)'.
                return new QapiConditionName(legacy.Groups[1].Value);
            }
            if (!IfIdentifier.IsMatch(s.Value))
            {
                throw Error(s.Location, "'if' condition '" + s.Value + "' of " + source + " is not a valid identifier");
            }
            return new QapiConditionName(s.Value);
        }
        if (cond is not QDict d)
        {
            throw Error(cond.Location, "'if' condition of " + source + " must be a string or an object");
        }
        CheckKeys(d, d.Location, "'if' condition of " + source, System.Array.Empty<string>(), new[] { "all", "any", "not" });
        if (d.Count != 1)
        {
            throw Error(d.Location, "'if' condition of " + source + " has conflicting keys");
        }
        var e = d.Entries[0];
        if (e.Key == "not")
        {
            return new QapiConditionNot(CheckIfValue(e.Value, source));
        }
        if (e.Value is not QList operands)
        {
            throw Error(e.Value.Location, "'" + e.Key + "' condition of " + source + " must be an array");
        }
        var list = CheckInfix(e.Key, operands, source);
        return e.Key == "all" ? new QapiConditionAll(list) : new QapiConditionAny(list);
    }

    private EquatableArray<QapiCondition> CheckInfix(string op, QList operands, string source)
    {
        if (operands.Items.Count == 0)
        {
            throw Error(operands.Location, "'if' condition [] of " + source + " is useless");
        }
        var list = new List<QapiCondition>();
        foreach (var o in operands.Items)
        {
            list.Add(CheckIfValue(o, source));
        }
        return list.ToEquatableArray();
    }

    private void CheckFeatures(QNode? features, SourceLocation info, List<RawFeature> into)
    {
        if (features is null)
        {
            return;
        }
        if (features is not QList list)
        {
            throw Error(features.Location, "'features' must be an array");
        }
        foreach (var item in list.Items)
        {
            string source = "'features' member";
            QDict f;
            if (item is QDict d)
            {
                f = d;
            }
            else
            {
                f = new QDict(item.Location, new List<QEntry> { new("name", item.Location, item) });
            }
            CheckKeys(f, item.Location, source, new[] { "name" }, new[] { "if" });
            if (f["name"] is not QString n)
            {
                throw Error(item.Location, source + " requires a string name");
            }
            source += " '" + n.Value + "'";
            CheckNameLower(n.Value, n.Location, source);
            var cond = CheckIf(f, item.Location, source);
            into.Add(new RawFeature(new QapiFeature(n.Value, cond), n.Location));
        }
    }

    private QapiTypeRef CheckTypeNameOrArray(QNode value, string source, bool allowArray = true)
    {
        if (value is QString s)
        {
            return new QapiTypeRef(s.Value, false);
        }
        if (value is not QList l)
        {
            throw Error(value.Location, allowArray ? source + " should be a type name or array" : source + " should be a type name");
        }
        if (!allowArray)
        {
            throw Error(value.Location, source + " cannot be an array");
        }
        if (l.Items.Count != 1 || l.Items[0] is not QString e)
        {
            throw Error(value.Location, source + ": array type must contain single type name");
        }
        return new QapiTypeRef(e.Value, true);
    }

    /// <summary>An inline member dict ('data' of a struct/command/event, or a union's inline base).</summary>
    private List<RawMember> CheckMembers(QNode value, string source, string parentName, string definedIn)
    {
        if (value is not QDict dict)
        {
            throw Error(value.Location, source + " should be an object or type name");
        }
        bool permissive = _pragma.MemberNameExceptions.Contains(parentName);
        var members = new List<RawMember>();
        foreach (var e in dict.Entries)
        {
            string key = e.Key;
            string keySource = source + " member '" + key + "'";
            bool optional = key.StartsWith("*", System.StringComparison.Ordinal);
            if (optional)
            {
                key = key.Substring(1);
            }
            CheckNameLower(key, e.KeyLocation, keySource, permitUpper: permissive, permitUnderscore: permissive);
            string c = CName(key);
            if (c == "u" || c.StartsWith("has_", System.StringComparison.Ordinal) || ReservedProperties.Contains(Naming.ToPascalCase(key)))
            {
                throw Error(e.KeyLocation, keySource + " uses reserved name");
            }
            QDict arg = e.Value as QDict ?? new QDict(e.Value.Location, new List<QEntry> { new("type", e.Value.Location, e.Value) });
            CheckKeys(arg, e.KeyLocation, keySource, new[] { "type" }, new[] { "if", "features" });
            var cond = CheckIf(arg, e.KeyLocation, keySource);
            var feats = new List<RawFeature>();
            CheckFeatures(arg["features"], e.KeyLocation, feats);
            _def.MemberFeatures.AddRange(feats);
            var typeNode = arg["type"]!;
            var type = CheckTypeNameOrArray(typeNode, keySource);
            // The validator checks 'path-component' on strings only; elsewhere it would be a
            // defence that silently checks nothing.
            if (type.Name != "str" && feats.Any(f => f.Feature.Name == "path-component"))
            {
                throw Error(typeNode.Location, keySource + " has feature 'path-component' but is not of type 'str' or ['str']");
            }
            members.Add(new RawMember(key, type, typeNode.Location, optional, cond, feats.Select(f => f.Feature).ToEquatableArray(), e.KeyLocation, definedIn));
        }
        return members;
    }

    private void CheckEnum(QDict expr, SourceLocation info, string name)
    {
        var members = expr["data"]!;
        var prefix = expr["prefix"];
        if (members is not QList list)
        {
            throw Error(members.Location, "'data' must be an array");
        }
        if (prefix is not null && prefix is not QString)
        {
            throw Error(prefix.Location, "'prefix' must be a string");
        }
        _def.Prefix = (prefix as QString)?.Value;
        bool permissive = _pragma.MemberNameExceptions.Contains(name);
        foreach (var item in list.Items)
        {
            string source = "'data' member";
            QDict m = item as QDict ?? new QDict(item.Location, new List<QEntry> { new("name", item.Location, item) });
            CheckKeys(m, item.Location, source, new[] { "name" }, new[] { "if", "features" });
            if (m["name"] is not QString n)
            {
                throw Error(item.Location, source + " requires a string name");
            }
            source += " '" + n.Value + "'";
            string memberName = n.Value;
            // Enum values may start with a digit.
            if (memberName.Length > 0 && char.IsDigit(memberName[0]))
            {
                memberName = "d" + memberName;
            }
            CheckNameLower(memberName, n.Location, source, permitUpper: permissive, permitUnderscore: permissive);
            var cond = CheckIf(m, item.Location, source);
            var feats = new List<RawFeature>();
            CheckFeatures(m["features"], item.Location, feats);
            _def.MemberFeatures.AddRange(feats);
            _def.Values.Add(new RawEnumValue(new QapiEnumValue(n.Value, cond, feats.Select(f => f.Feature).ToEquatableArray()), n.Location));
        }
    }

    private void CheckStruct(QDict expr, SourceLocation info, string name)
    {
        _def.Members = CheckMembers(expr["data"]!, "'data'", name, name);
        var b = expr["base"];
        if (b is not null)
        {
            if (b is not QString bs)
            {
                throw Error(b.Location, "'base' should be a type name");
            }
            _def.BaseName = bs.Value;
            _def.BaseLocation = bs.Location;
        }
    }

    private void CheckUnion(QDict expr, SourceLocation info, string name)
    {
        var b = expr["base"]!;
        if (b is QString bs)
        {
            _def.BaseName = bs.Value;
            _def.BaseLocation = bs.Location;
        }
        else if (b is QDict)
        {
            _def.ImplicitName = "q_obj_" + name + "-base";
            _def.Members = CheckMembers(b, "'base'", name, _def.ImplicitName);
            _def.BaseLocation = b.Location;
        }
        else
        {
            throw Error(b.Location, "'base' should be an object or type name");
        }
        var disc = expr["discriminator"]!;
        if (disc is not QString ds)
        {
            throw Error(disc.Location, "'discriminator' requires a string name");
        }
        _def.Discriminator = ds.Value;
        _def.DiscriminatorLocation = ds.Location;
        var data = expr["data"]!;
        if (data is not QDict members)
        {
            throw Error(data.Location, "'data' must be an object");
        }
        foreach (var e in members.Entries)
        {
            string source = "'data' member '" + e.Key + "'";
            // The name is a value of the discriminator enum: checked against it later.
            QDict v = e.Value as QDict ?? new QDict(e.Value.Location, new List<QEntry> { new("type", e.Value.Location, e.Value) });
            CheckKeys(v, e.KeyLocation, source, new[] { "type" }, new[] { "if" });
            var cond = CheckIf(v, e.KeyLocation, source);
            var type = CheckTypeNameOrArray(v["type"]!, source, allowArray: false);
            _def.Branches.Add(new RawBranch(e.Key, type, cond, e.KeyLocation));
        }
    }

    private void CheckAlternate(QDict expr, SourceLocation info)
    {
        var data = expr["data"]!;
        if (data is QDict { Count: 0 } || data is QList { Items.Count: 0 })
        {
            throw Error(data.Location, "'data' must not be empty");
        }
        if (data is not QDict members)
        {
            throw Error(data.Location, "'data' must be an object");
        }
        foreach (var e in members.Entries)
        {
            string source = "'data' member '" + e.Key + "'";
            CheckNameLower(e.Key, e.KeyLocation, source);
            QDict v = e.Value as QDict ?? new QDict(e.Value.Location, new List<QEntry> { new("type", e.Value.Location, e.Value) });
            CheckKeys(v, e.KeyLocation, source, new[] { "type" }, new[] { "if" });
            var cond = CheckIf(v, e.KeyLocation, source);
            var type = CheckTypeNameOrArray(v["type"]!, source);
            _def.Branches.Add(new RawBranch(e.Key, type, cond, e.KeyLocation));
        }
    }

    private void CheckArgs(QDict expr, SourceLocation info, string name)
    {
        var args = expr["data"];
        bool boxed = expr["boxed"] is QBool { Value: true };
        if (boxed)
        {
            if (args is null)
            {
                throw Error(info, "'boxed': true requires 'data'");
            }
            if (args is not QString)
            {
                throw Error(args.Location, "'data' should be a type name");
            }
        }
        if (args is QString s)
        {
            _def.DataName = s.Value;
            _def.DataLocation = s.Location;
        }
        else if (args is not null)
        {
            _def.DataLocation = args.Location;
            string implicitName = "q_obj_" + name + "-arg";
            _def.Members = CheckMembers(args, "'data'", name, implicitName);
            if (_def.Members.Count > 0)
            {
                _def.ImplicitName = implicitName;
            }
        }
    }

    private void CheckCommand(QDict expr, SourceLocation info, string name)
    {
        CheckArgs(expr, info, name);
        var rets = expr["returns"];
        if (rets is not null)
        {
            _def.Returns = CheckTypeNameOrArray(rets, "'returns'");
            _def.ReturnsLocation = rets.Location;
        }
    }

    private void CheckEvent(QDict expr, SourceLocation info, string name) => CheckArgs(expr, info, name);
}

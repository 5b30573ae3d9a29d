using System;
using System.Collections.Generic;
using System.Linq;
using QemuGuest.Schema.Parsing;

namespace QemuGuest.Schema.Checking;

/// <summary>
/// The entity pass (QEMU's scripts/qapi/schema.py check()): defines every entity (implicit
/// argument and base types included), resolves type references and bases, checks unions,
/// alternates, commands and events, checks name clashes after conversion to C# names
/// (<see cref="Naming.ToPascalCase"/>, compared case-insensitively because PowerShell
/// parameters are), connects doc comments, and builds the immutable model.
/// </summary>
internal sealed class SchemaChecker
{
    private sealed class TypeEntry
    {
        public TypeEntry(string name, string meta, SourceLocation location, Definition? def)
        {
            Name = name;
            Meta = meta;
            Location = location;
            Def = def;
        }

        public string Name { get; }

        /// <summary>built-in, enum, struct, union or alternate.</summary>
        public string Meta { get; }

        public SourceLocation Location { get; }

        /// <summary>The definition that wrote it (the owner, for an implicit type).</summary>
        public Definition? Def { get; }

        public bool Implicit => Name.StartsWith("q_", StringComparison.Ordinal);

        public List<RawMember>? Local { get; set; }

        public string? BaseName { get; set; }

        public SourceLocation BaseLocation { get; set; }

        public List<RawMember>? All { get; set; }

        public int State { get; set; }

        public string Describe() => Meta + " type '" + Name + "'";
    }

    private readonly PragmaState _pragma;
    private readonly Dictionary<string, TypeEntry> _types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (SourceLocation Location, string Meta)> _names = new(StringComparer.Ordinal);

    private readonly List<CapabilityClassDef>? _capabilities;
    private readonly string? _capabilitiesPath;

    public SchemaChecker(PragmaState pragma, List<CapabilityClassDef>? capabilities, string? capabilitiesPath)
    {
        _pragma = pragma;
        _capabilities = capabilities;
        _capabilitiesPath = capabilitiesPath;
    }

    public static QapiSchema Check(SchemaReader reader)
    {
        var checker = new SchemaChecker(reader.Pragma, reader.Capabilities, reader.CapabilitiesPath);
        var exprChecker = new ExprChecker(reader.Pragma);
        var defs = new List<Definition>();
        foreach (var e in reader.Exprs)
        {
            defs.Add(exprChecker.Check(e));
        }
        return checker.Run(defs, reader.Files);
    }

    private static SchemaError Error(Definition? def, SourceLocation loc, string message) => new(loc, message, def?.Context);

    private QapiSchema Run(List<Definition> defs, List<string> files)
    {
        foreach (var b in QapiBuiltins.Names)
        {
            _types[b] = new TypeEntry(b, "built-in", default, null);
            _names[b] = (default, "built-in type");
        }
        foreach (var def in defs)
        {
            Define(def);
        }
        AssignCapabilities(defs);
        foreach (var def in defs)
        {
            switch (def.Meta)
            {
                case "enum":
                    CheckEnum(def);
                    break;
                case "struct":
                    CheckStruct(_types[def.Name]);
                    break;
                case "union":
                    CheckUnion(def);
                    break;
                case "alternate":
                    CheckAlternate(def);
                    break;
                default:
                    CheckCommandOrEvent(def);
                    break;
            }
        }
        CheckConvertedNames(defs);
        foreach (var def in defs)
        {
            CheckDoc(def);
        }
        return Build(defs, files);
    }

    private void Define(Definition def)
    {
        if (_names.TryGetValue(def.Name, out var other))
        {
            if (other.Meta == "built-in type")
            {
                throw Error(def, def.Location, "built-in type '" + def.Name + "' is already defined");
            }
            throw Error(def, def.Location, "'" + def.Name + "' is already defined\n" + other.Location + ": previous definition");
        }
        if (def.ImplicitName is not null)
        {
            var imp = new TypeEntry(def.ImplicitName, "struct", def.Meta == "union" ? def.BaseLocation : def.DataLocation, def)
            {
                Local = def.Members,
            };
            _types[imp.Name] = imp;
            _names[imp.Name] = (imp.Location, "struct");
        }
        _names[def.Name] = (def.Location, def.Meta);
        if (def.Meta is "enum" or "struct" or "union" or "alternate")
        {
            _types[def.Name] = new TypeEntry(def.Name, def.Meta, def.Location, def)
            {
                Local = def.Meta == "struct" ? def.Members : null,
                BaseName = def.Meta == "struct" ? def.BaseName : null,
                BaseLocation = def.BaseLocation,
            };
        }
    }

    /// <summary>QEMU's QAPISchemaMember.describe(): "member 'x'", "parameter 'x'", "member 'x' of type 'Base'".</summary>
    private static string Describe(RawMember m, string contextName, string role = "member")
    {
        string meta = "type";
        string definedIn = m.DefinedIn;
        if (definedIn.StartsWith("q_obj_", StringComparison.Ordinal))
        {
            definedIn = definedIn.Substring(6);
            if (definedIn.EndsWith("-arg", StringComparison.Ordinal))
            {
                role = "parameter";
                meta = "command";
                definedIn = definedIn.Substring(0, definedIn.Length - 4);
            }
            else if (definedIn.EndsWith("-base", StringComparison.Ordinal))
            {
                role = "base " + role;
                definedIn = definedIn.Substring(0, definedIn.Length - 5);
            }
        }
        return definedIn != contextName ? role + " '" + m.Name + "' of " + meta + " '" + definedIn + "'" : role + " '" + m.Name + "'";
    }

    private static string DescribeRef(QapiTypeRef t, TypeEntry entry) =>
        t.IsArray ? "array type ['" + t.Name + "']" : entry.Describe();

    private static string Key(string wireName) => Naming.ToPascalCase(wireName).ToUpperInvariant();

    private TypeEntry ResolveType(Definition def, QapiTypeRef t, SourceLocation loc, string what)
    {
        if (!_types.TryGetValue(t.Name, out var entry))
        {
            throw Error(def, loc, what + " uses unknown type '" + t.Name + "'");
        }
        return entry;
    }

    private void CheckEnum(Definition def)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in def.Values)
        {
            string k = Key(v.Value.Name);
            if (seen.TryGetValue(k, out var prev))
            {
                throw Error(def, v.Location, "value '" + v.Value.Name + "' collides with value '" + prev + "'");
            }
            seen[k] = v.Value.Name;
        }
        CheckFeatureClash(def);
    }

    private void CheckFeatureClash(Definition def)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in def.Features)
        {
            string k = Key(f.Feature.Name);
            if (seen.TryGetValue(k, out var prev))
            {
                throw Error(def, f.Location, "feature '" + f.Feature.Name + "' collides with feature '" + prev + "'");
            }
            seen[k] = f.Feature.Name;
        }
    }

    /// <summary>Resolves a struct's base chain, member types and AllMembers; checks member clashes.</summary>
    private List<RawMember> CheckStruct(TypeEntry t)
    {
        var def = t.Def!;
        if (t.State == 2)
        {
            return t.All!;
        }
        if (t.State == 1)
        {
            throw Error(def, def.Location, "object " + t.Name + " contains itself");
        }
        t.State = 1;
        var all = new List<RawMember>();
        if (t.BaseName is not null)
        {
            var b = ResolveType(def, new QapiTypeRef(t.BaseName, false), t.BaseLocation, "'base'");
            if (b.Meta != "struct")
            {
                throw Error(def, t.BaseLocation, "'base' requires a struct type, " + b.Describe() + " isn't");
            }
            all.AddRange(CheckStruct(b));
        }
        foreach (var m in t.Local!)
        {
            ResolveType(def, m.Type, m.TypeLocation, Describe(m, def.Name));
        }
        all.AddRange(t.Local!);
        CheckMemberClash(def, all);
        if (!t.Implicit)
        {
            CheckFeatureClash(def);
        }
        t.All = all;
        t.State = 2;
        return all;
    }

    private static void CheckMemberClash(Definition def, List<RawMember> members, Dictionary<string, RawMember>? seen = null, SourceLocation? at = null)
    {
        seen ??= new Dictionary<string, RawMember>(StringComparer.Ordinal);
        foreach (var m in members)
        {
            string k = Key(m.Name);
            if (seen.TryGetValue(k, out var prev))
            {
                throw Error(def, at ?? m.Location, Describe(m, def.Name) + " collides with " + Describe(prev, def.Name));
            }
            seen[k] = m;
        }
    }

    private (TypeEntry Base, List<RawMember> All) UnionBase(Definition def)
    {
        TypeEntry b;
        if (def.ImplicitName is not null)
        {
            b = _types[def.ImplicitName];
        }
        else
        {
            b = ResolveType(def, new QapiTypeRef(def.BaseName!, false), def.BaseLocation, "'base'");
            if (b.Meta != "struct")
            {
                throw Error(def, def.BaseLocation, "'base' requires a struct type, " + b.Describe() + " isn't");
            }
        }
        return (b, CheckStruct(b));
    }

    private void CheckUnion(Definition def)
    {
        var (baseType, all) = UnionBase(def);
        string tagName = def.Discriminator!;
        RawMember? tag = all.FirstOrDefault(m => m.Name == tagName);
        string baseDescr = "'base'";
        if (tag is null)
        {
            throw Error(def, def.DiscriminatorLocation, "discriminator '" + tagName + "' is not a member of " + baseDescr);
        }
        if (!tag.DefinedIn.StartsWith("q_", StringComparison.Ordinal))
        {
            baseDescr = "base type '" + tag.DefinedIn + "'";
        }
        var tagType = _types[tag.Type.Name];
        if (tag.Type.IsArray || tagType.Meta != "enum" && tag.Type.Name != "QType")
        {
            throw Error(def, def.DiscriminatorLocation, "discriminator member '" + tagName + "' of " + baseDescr + " must be of enum type");
        }
        if (tag.Optional)
        {
            throw Error(def, def.DiscriminatorLocation, "discriminator member '" + tagName + "' of " + baseDescr + " must not be optional");
        }
        if (tag.If is not null)
        {
            throw Error(def, def.DiscriminatorLocation, "discriminator member '" + tagName + "' of " + baseDescr + " must not be conditional");
        }
        var values = tagType.Def is null ? QapiBuiltins.QTypeValues.ToList() : tagType.Def.Values.Select(v => v.Value.Name).ToList();
        foreach (var br in def.Branches)
        {
            if (!values.Contains(br.Name))
            {
                throw Error(def, br.Location, "branch '" + br.Name + "' is not a value of " + tagType.Describe());
            }
            var bt = ResolveType(def, br.Type, br.Location, "branch '" + br.Name + "'");
            if (bt.Meta != "struct")
            {
                throw Error(def, br.Location, "branch '" + br.Name + "' cannot use " + bt.Describe());
            }
            var branchMembers = CheckStruct(bt);
            var seen = new Dictionary<string, RawMember>(StringComparer.Ordinal);
            foreach (var m in all)
            {
                seen[Key(m.Name)] = m;
            }
            CheckMemberClash(def, branchMembers, seen, br.Location);
        }
        CheckFeatureClash(def);
    }

    /// <summary>The JSON kind a branch type takes: string, number, boolean, null, object, array; null for none.</summary>
    private string? AlternateKind(QapiTypeRef t, TypeEntry e)
    {
        if (t.IsArray)
        {
            return "array";
        }
        return e.Meta switch
        {
            "built-in" => QapiBuiltins.JsonKind(e.Name) is "value" ? null : QapiBuiltins.JsonKind(e.Name),
            "enum" => "string",
            "struct" or "union" => "object",
            _ => null,
        };
    }

    private void CheckAlternate(Definition def)
    {
        var kindsSeen = new Dictionary<string, string>(StringComparer.Ordinal);
        var namesSeen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var br in def.Branches)
        {
            string k = Key(br.Name);
            if (namesSeen.TryGetValue(k, out var prevName))
            {
                throw Error(def, br.Location, "branch '" + br.Name + "' collides with branch '" + prevName + "'");
            }
            namesSeen[k] = br.Name;
            var bt = ResolveType(def, br.Type, br.Location, "branch '" + br.Name + "'");
            string? kind = AlternateKind(br.Type, bt);
            if (kind is null)
            {
                throw Error(def, br.Location, "branch '" + br.Name + "' cannot use " + DescribeRef(br.Type, bt));
            }
            // Like QEMU (whose keyval input parses everything from strings): a string
            // conflicts with numbers and booleans, an enum only with those its values look like.
            var conflicting = new List<string> { kind };
            if (kind == "string")
            {
                if (bt.Meta == "enum")
                {
                    foreach (var v in bt.Def!.Values)
                    {
                        string n = v.Value.Name;
                        if (n is "on" or "off")
                        {
                            conflicting.Add("boolean");
                        }
                        if (n.Length > 0 && (n[0] is '-' or '+' or '.' || char.IsDigit(n[0])))
                        {
                            conflicting.Add("number");
                        }
                    }
                }
                else
                {
                    conflicting.Add("number");
                    conflicting.Add("boolean");
                }
            }
            foreach (var qt in conflicting)
            {
                if (kindsSeen.TryGetValue(qt, out var prev))
                {
                    throw Error(def, br.Location, "branch '" + br.Name + "' can't be distinguished from '" + prev + "'");
                }
            }
            foreach (var qt in conflicting)
            {
                kindsSeen[qt] = br.Name;
            }
        }
        CheckFeatureClash(def);
    }

    private void CheckCommandOrEvent(Definition def)
    {
        string owner = def.Meta + "'s";
        if (def.ImplicitName is not null)
        {
            CheckStruct(_types[def.ImplicitName]);
        }
        else if (def.DataName is not null)
        {
            var t = ResolveType(def, new QapiTypeRef(def.DataName, false), def.DataLocation, owner + " 'data'");
            if (t.Meta is not ("struct" or "union"))
            {
                throw Error(def, def.DataLocation, owner + " 'data' cannot take " + t.Describe());
            }
            if (t.Meta == "union" && !def.Boxed)
            {
                throw Error(def, def.DataLocation, owner + " 'data' can take " + t.Describe() + " only with 'boxed': true");
            }
        }
        if (def.Returns is { } ret)
        {
            var t = ResolveType(def, ret, def.ReturnsLocation, "command's 'returns'");
            if (!_pragma.CommandReturnsExceptions.Contains(def.Name) && t.Meta is not ("struct" or "union"))
            {
                throw Error(def, def.ReturnsLocation, "command's 'returns' cannot take " + DescribeRef(ret, t));
            }
        }
        if (def.Meta == "command")
        {
            CheckCapabilities(def);
        }
        CheckFeatureClash(def);
    }

    /// <summary>
    /// Gives each command its classes from the side file, in the file's class order. A name
    /// that is no command would leave the command it was meant for unclassified.
    /// </summary>
    private void AssignCapabilities(List<Definition> defs)
    {
        if (_capabilities is null)
        {
            return;
        }
        var commands = new Dictionary<string, Definition>(StringComparer.Ordinal);
        foreach (var def in defs)
        {
            if (def.Meta == "command")
            {
                commands[def.Name] = def;
            }
        }
        foreach (var cls in _capabilities)
        {
            foreach (var name in cls.Commands)
            {
                if (!commands.TryGetValue(name.Value, out var def))
                {
                    string what = _names.TryGetValue(name.Value, out var other) ? "is " + Article(other.Meta) + ", not a command" : "is not a command of the schema" + OverlayParser.WhyUnknownCommand(name.Value);
                    throw new SchemaError(name.Location, "'" + name.Value + "' " + what, cls.Context);
                }
                def.Capabilities.Add(cls.Name);
            }
        }
    }

    private static string Article(string meta) => (meta.Length > 0 && "aeiou".IndexOf(meta[0]) >= 0 ? "an " : "a ") + meta;

    /// <summary>
    /// Policies deny and allow by what a command can do, so once a capabilities side file is
    /// there, a command it does not list would slip past every class rule: an error (the usual
    /// cause is a newer upstream schema dropped in with commands the side file does not know).
    /// </summary>
    private void CheckCapabilities(Definition def)
    {
        if (_capabilities is null || def.Capabilities.Count > 0)
        {
            return;
        }
        var names = new List<string>();
        foreach (var c in _capabilities)
        {
            names.Add("'" + c.Name + "'");
        }
        throw Error(def, def.Location, "command has no capability class: list it in " + _capabilitiesPath + " under one of " + (names.Count > 0 ? string.Join(", ", names) : "the classes (the file declares none)"));
    }

    /// <summary>Names that collide once converted to C# (e.g. 'a-b' and 'a_b', '__org.x_Foo' and 'Foo').</summary>
    private void CheckConvertedNames(List<Definition> defs)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var commands = new Dictionary<string, string>(StringComparer.Ordinal);
        var events = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(Dictionary<string, string> seen, Definition def, string descr, SourceLocation loc)
        {
            string k = Key(descr.Substring(descr.IndexOf('\'') + 1).TrimEnd('\''));
            if (seen.TryGetValue(k, out var prev))
            {
                throw Error(def, loc, descr + " collides with " + prev);
            }
            seen[k] = descr;
        }
        foreach (var def in defs)
        {
            if (def.ImplicitName is not null)
            {
                Add(types, def, "struct '" + def.ImplicitName + "'", def.Meta == "union" ? def.BaseLocation : def.DataLocation);
            }
            var dict = def.Meta switch
            {
                "command" => commands,
                "event" => events,
                _ => types,
            };
            Add(dict, def, def.Meta + " '" + def.Name + "'", def.Location);
        }
    }

    private sealed class DocTarget
    {
        public DocTarget(string name, string role, SourceLocation location, bool required)
        {
            Name = name;
            Role = role;
            Location = location;
            Required = required;
        }

        public string Name { get; }

        public string Role { get; }

        public SourceLocation Location { get; }

        public bool Required { get; }
    }

    private void CheckDoc(Definition def)
    {
        var doc = def.Doc;
        if (doc is null)
        {
            return;
        }
        var targets = new List<DocTarget>();
        switch (def.Meta)
        {
            case "enum":
                targets.AddRange(def.Values.Select(v => new DocTarget(v.Value.Name, "value", v.Location, true)));
                break;
            case "alternate":
                targets.AddRange(def.Branches.Select(b => new DocTarget(b.Name, "branch", b.Location, true)));
                break;
            case "union":
            case "struct":
                if (def.Members is not null)
                {
                    targets.AddRange(def.Members.Select(m => new DocTarget(m.Name, "member", m.Location, true)));
                }
                break;
            default:
                if (def.Members is not null)
                {
                    targets.AddRange(def.Members.Select(m => new DocTarget(m.Name, "member", m.Location, true)));
                }
                else if (def.DataName is not null && _types.TryGetValue(def.DataName, out var t) && t.Meta == "struct" && t.All is not null)
                {
                    // Members of a named argument type are documented there; may be repeated here.
                    targets.AddRange(t.All.Select(m => new DocTarget(m.Name, "member", m.Location, false)));
                }
                break;
        }
        bool require = !_pragma.Legacy && !_pragma.DocumentationExceptions.Contains(def.Name);
        foreach (var t in targets)
        {
            if (t.Required && require && doc.Arg(t.Name) is null)
            {
                throw Error(def, t.Location, t.Role + " '" + t.Name + "' lacks documentation");
            }
        }
        var bogus = doc.Args.Where(a => targets.All(t => t.Name != a.Name)).ToList();
        if (bogus.Count > 0)
        {
            throw Error(def, bogus[0].Location, Bogus("member", bogus));
        }
        var features = def.Features.Concat(def.MemberFeatures).ToList();
        foreach (var f in features)
        {
            if (doc.Feature(f.Feature.Name) is null)
            {
                throw Error(def, f.Location, "feature '" + f.Feature.Name + "' lacks documentation");
            }
        }
        var bogusFeatures = doc.Features.Where(a => features.All(f => f.Feature.Name != a.Name)).ToList();
        if (bogusFeatures.Count > 0)
        {
            throw Error(def, bogusFeatures[0].Location, Bogus("feature", bogusFeatures));
        }
    }

    private static string Bogus(string what, List<ParsedDocSection> bogus) =>
        "documented " + what + (bogus.Count > 1 ? "s" : "") + " '" + string.Join("', '", bogus.Select(b => b.Name)) + "' " + (bogus.Count > 1 ? "do" : "does") + " not exist";

    private QapiSchema Build(List<Definition> defs, List<string> files)
    {
        var entities = new List<QapiEntity>();
        foreach (var def in defs)
        {
            var doc = def.Doc?.ToModel();
            var features = def.FeatureModel();
            if (def.ImplicitName is not null)
            {
                var imp = _types[def.ImplicitName];
                var members = imp.All!.Select(m => m.ToModel()).ToEquatableArray();
                entities.Add(new QapiStruct(imp.Name, imp.Location, def.If, default, null, null, members, members));
            }
            switch (def.Meta)
            {
                case "enum":
                    entities.Add(new QapiEnum(def.Name, def.Location, def.If, features, doc, def.Values.Select(v => v.Value).ToEquatableArray(), def.Prefix));
                    break;
                case "struct":
                    var t = _types[def.Name];
                    entities.Add(new QapiStruct(def.Name, def.Location, def.If, features, doc, def.BaseName, t.Local!.Select(m => m.ToModel()).ToEquatableArray(), t.All!.Select(m => m.ToModel()).ToEquatableArray()));
                    break;
                case "union":
                    var (_, all) = UnionBase(def);
                    string tagEnum = _types[all.First(m => m.Name == def.Discriminator).Type.Name].Name;
                    entities.Add(new QapiUnion(def.Name, def.Location, def.If, features, doc, def.ImplicitName ?? def.BaseName!, def.Discriminator!, tagEnum, def.Branches.Select(b => new QapiVariant(b.Name, b.Type, b.If)).ToEquatableArray()));
                    break;
                case "alternate":
                    entities.Add(new QapiAlternate(def.Name, def.Location, def.If, features, doc, def.Branches.Select(b => new QapiVariant(b.Name, b.Type, b.If)).ToEquatableArray()));
                    break;
                case "command":
                    entities.Add(new QapiCommand(def.Name, def.Location, def.If, features, doc, def.ImplicitName ?? def.DataName, def.Boxed, def.Returns, def.SuccessResponse, def.Gen, def.AllowOob, def.AllowPreconfig, def.Coroutine, def.Capabilities.ToEquatableArray()));
                    break;
                default:
                    entities.Add(new QapiEvent(def.Name, def.Location, def.If, features, doc, def.ImplicitName ?? def.DataName, def.Boxed));
                    break;
            }
        }
        var classes = (_capabilities ?? new List<CapabilityClassDef>())
            .Select(c => new QapiCapabilityClass(c.Name, c.Location, c.Doc, c.Commands.Select(n => n.Value).ToEquatableArray()))
            .ToEquatableArray();
        return new QapiSchema(entities.ToEquatableArray(), _pragma.ToModel(), files.ToEquatableArray(), classes);
    }
}
